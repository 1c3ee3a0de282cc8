//! The rows of `COPY ... TO STDOUT` as COPY data: Arrow record batches encoded row by row in
//! PostgreSQL's text, CSV or binary COPY format while they stream, after the header line that
//! HEADER asks for, and their sending. It holds no SQL semantics.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::arrow_pg::encoder::{Encoder, encode_value};
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{
    CopyCsvOptions, CopyEncoder, CopyResponse, CopyTextOptions, FieldInfo, Tag,
};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};

use super::pg_text::{CopyText, copy_fields};
use crate::sql::{CopyFormat, CopyOptions, display_name};

/// A new encoder of rows with `fields` in the format of `options`, which writes floats and
/// times as PostgreSQL does.
fn encoder(fields: &[FieldInfo], options: &CopyOptions) -> CopyText {
    let inner = raw_encoder(Arc::new(copy_fields(fields)), options);
    CopyText::new(inner, fields)
}

/// pgwire's encoder of rows with `fields` in the format of `options`.
fn raw_encoder(fields: Arc<Vec<FieldInfo>>, options: &CopyOptions) -> CopyEncoder {
    match options.format {
        CopyFormat::Text => CopyEncoder::new_text(
            fields,
            CopyTextOptions {
                delimiter: options.delimiter.to_string().into(),
                null_string: options.null.as_str().into(),
            },
        ),
        CopyFormat::Csv => CopyEncoder::new_csv(
            fields,
            CopyCsvOptions {
                delimiter: options.delimiter.to_string().into(),
                quote: options.quote.to_string().into(),
                escape: options.quote.to_string().into(),
                null_string: options.null.as_str().into(),
                force_quote: vec![],
            },
        ),
        CopyFormat::Binary => CopyEncoder::new_binary(fields),
    }
}

/// The header line: the column names as clients see them, quoted and escaped like text values.
fn header(schema: &SchemaRef, options: &CopyOptions) -> PgWireResult<CopyData> {
    let fields: Vec<FieldInfo> = schema
        .fields()
        .iter()
        .map(|f| {
            FieldInfo::new(
                f.name().clone(),
                None,
                None,
                Type::TEXT,
                Format::UnifiedText.format_for(0),
            )
        })
        .collect();
    let mut enc = raw_encoder(Arc::new(fields), options);
    for f in schema.fields() {
        enc.encode_field(&display_name(f.name()))?;
    }
    Ok(enc.take_copy())
}

/// The rows of one batch, each as one CopyData message.
fn encode_batch(
    enc: &mut CopyText,
    fields: &[FieldInfo],
    batch: &RecordBatch,
) -> PgWireResult<Vec<CopyData>> {
    let arrow = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            for (col, array) in batch.columns().iter().enumerate() {
                encode_value(enc, array, row, arrow.field(col), &fields[col])?;
            }
            Ok(Encoder::take_row(enc))
        })
        .collect()
}

/// Puts `header` in front of the first of `rows`: pgwire's row count (the `COPY n` tag)
/// counts messages, and a header is not a row.
fn prepend(header: &mut Option<CopyData>, rows: &mut [CopyData]) {
    if let (Some(first), Some(h)) = (rows.first_mut(), header.take()) {
        let mut bytes = h.data.to_vec();
        bytes.extend_from_slice(&first.data);
        *first = CopyData::new(bytes.into());
    }
}

/// The response that streams `stream`'s rows to the client.
pub fn response(
    schema: SchemaRef,
    stream: SendableRecordBatchStream,
    options: &CopyOptions,
) -> PgWireResult<CopyResponse> {
    let binary = options.format == CopyFormat::Binary;
    let format = if binary {
        Format::UnifiedBinary
    } else {
        Format::UnifiedText
    };
    let fields = Arc::new(arrow_schema_to_pg_fields(&schema, &format, None)?);
    let columns = fields.len();
    let header = if options.header && !binary {
        Some(header(&schema, options)?)
    } else {
        None
    };
    let enc = encoder(&fields, options);
    // State: the batches, the encoder, the header until it is sent, and whether the
    // batches are done.
    let data = futures::stream::unfold(
        (stream, enc, header, false),
        move |(mut stream, mut enc, mut header, done)| {
            let fields = fields.clone();
            async move {
                if done {
                    return None;
                }
                let out: Vec<PgWireResult<CopyData>> = match stream.next().await {
                    Some(Ok(batch)) => match encode_batch(&mut enc, &fields, &batch) {
                        Ok(mut rows) => {
                            prepend(&mut header, &mut rows);
                            rows.into_iter().map(Ok).collect()
                        }
                        Err(e) => vec![Err(e)],
                    },
                    Some(Err(e)) => vec![Err(PgWireError::ApiError(Box::new(e)))],
                    // No rows at all: the header alone (counted as a row by pgwire).
                    None => {
                        let last = header.take().map(Ok).into_iter().collect();
                        return Some((last, (stream, enc, None, true)));
                    }
                };
                Some((out, (stream, enc, header, false)))
            }
        },
    )
    .flat_map(futures::stream::iter);
    Ok(CopyResponse::new(i8::from(binary), columns, data))
}

/// Sends `copy` to the client: the CopyOutResponse, the data and CopyDone; answers the
/// `COPY n` tag of the rows sent. An error while the rows are computed is returned with its
/// SQLSTATE and no more data follows, so that the client gets an ErrorResponse in the middle
/// of the COPY as from PostgreSQL (pgwire's own sender puts a CopyFail first, a message only
/// clients send: libpq and tokio-postgres then report an unexpected message instead of the
/// error). A cancel request is heeded by pgwire while this runs, as it runs in the handler.
pub async fn send<C>(client: &mut C, copy: CopyResponse) -> PgWireResult<Tag>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    PgWireError: From<C::Error>,
{
    let formats = copy.column_formats();
    let CopyResponse {
        format,
        columns,
        mut data_stream,
        ..
    } = copy;
    let columns = i16::try_from(columns).map_err(|_| {
        PgWireError::ApiError("a COPY of more than 32767 columns cannot be sent".into())
    })?;
    client
        .feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            format, columns, formats,
        )))
        .await?;
    let mut rows = 0;
    while let Some(data) = data_stream.next().await {
        let data = data.map_err(super::errors::classify)?;
        if data.data.is_empty() {
            continue;
        }
        // The binary format's trailer is no row.
        if data.data.as_ref() != [0xFF, 0xFF] {
            rows += 1;
        }
        client.feed(PgWireBackendMessage::CopyData(data)).await?;
    }
    client
        .feed(PgWireBackendMessage::CopyDone(CopyDone::new()))
        .await?;
    Ok(Tag::new("COPY").with_rows(rows))
}
