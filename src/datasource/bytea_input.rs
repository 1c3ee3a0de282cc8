//! PostgreSQL's text input of `bytea`, for casts of text to bytes: the hex form (`'\x0102'`,
//! pairs of hex digits after `\x`, whitespace allowed between pairs) and the escape form
//! (`'a\\b\001'`: a doubled backslash is one, a backslash and three octal digits one byte,
//! any other character its UTF-8 bytes). Arrow's cast took the text's bytes as they were, so
//! `'\x0102'::bytea` was six bytes and node-postgres' Buffer parameters, which it sends in hex,
//! were stored as their text. This module converts values only; it plans nothing.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BinaryBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, internal_err};
use datafusion::logical_expr::{ScalarUDF, Signature, Volatility};

use crate::error::{Error, sqlstate};

/// The bytes that `text` stands for as a `bytea` input.
pub fn decode(text: &str) -> Result<Vec<u8>, Error> {
    let invalid = || {
        Error::new(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type bytea: \"{text}\""),
        )
        .with_hint(r"Write bytes as \x and pairs of hex digits ('\x0102'), or in the escape form with \\ for a backslash and \ooo for an octal byte.")
    };
    if let Some(hex) = text
        .strip_prefix("\\x")
        .or_else(|| text.strip_prefix("\\X"))
    {
        let mut out = Vec::with_capacity(hex.len() / 2);
        // Whitespace may stand between pairs only; a pair split by it is refused.
        let mut pending: Option<u8> = None;
        for b in hex.bytes() {
            if b.is_ascii_whitespace() {
                if pending.is_some() {
                    return Err(invalid());
                }
                continue;
            }
            let d = (b as char).to_digit(16).ok_or_else(invalid)? as u8;
            match pending.take() {
                Some(high) => out.push(high << 4 | d),
                None => pending = Some(d),
            }
        }
        return if pending.is_some() {
            Err(invalid())
        } else {
            Ok(out)
        };
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = bytes.get(i + 1..i + 4).filter(|o| {
                (b'0'..=b'3').contains(&o[0]) && o[1..].iter().all(|d| (b'0'..=b'7').contains(d))
            });
            let o = octal.ok_or_else(invalid)?;
            out.push((o[0] - b'0') << 6 | (o[1] - b'0') << 3 | (o[2] - b'0'));
            i += 4;
        }
    }
    Ok(out)
}

/// `_pg_bytea(text)`: [`decode`] of each value.
pub fn udf() -> ScalarUDF {
    super::array_function::ArrayFunction::udf(
        "_pg_bytea",
        Signature::any(1, Volatility::Immutable),
        DataType::Binary,
        |args| {
            let [a] = args else {
                return internal_err!("_pg_bytea takes one text");
            };
            let text = cast(a, &DataType::Utf8)?;
            let text = text.as_string::<i32>();
            let mut out = BinaryBuilder::with_capacity(text.len(), text.value_data().len());
            for v in text.iter() {
                match v {
                    Some(v) => out.append_value(
                        decode(v).map_err(|e| DataFusionError::External(Box::new(e)))?,
                    ),
                    None => out.append_null(),
                }
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_bytea_forms() {
        assert_eq!(decode(r"\x0102ff").unwrap(), vec![1, 2, 255]);
        assert_eq!(decode(r"\xDE AD").unwrap(), vec![0xde, 0xad]);
        assert_eq!(decode(r"\x").unwrap(), Vec::<u8>::new());
        assert_eq!(decode("abc").unwrap(), b"abc".to_vec());
        assert_eq!(
            decode(r"a\\b\001\377").unwrap(),
            vec![b'a', b'\\', b'b', 1, 255]
        );
        assert_eq!(decode("é").unwrap(), "é".as_bytes().to_vec());
        for bad in [r"\x012", r"\x0g", r"\x0 1", r"a\b", r"\4000", r"\01"] {
            let e = decode(bad).unwrap_err();
            assert_eq!(e.code, sqlstate::INVALID_TEXT_REPRESENTATION, "{bad}");
        }
    }
}
