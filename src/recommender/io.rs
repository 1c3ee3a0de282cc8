//! Saving and loading models: a versioned binary format that loads fast and rejects damaged,
//! truncated or foreign files with a clear error, never a panic.
//!
//! Layout (all integers little-endian):
//! `b"RECSQLMD"` · format version u32 · header length u64 · header JSON (parameters, sizes) ·
//! arrays, each a u64 element count and the raw elements · CRC-32 of everything before it, u32.
//! Arrays per side (items first, then users): features indptr (u64), indices (u32), data
//! (f32), embeddings, biases, and the four accumulator arrays (f32); the last two (adadelta's
//! E[Δ²]) are empty under adagrad. Format 1 stored them as zeros under adagrad too; it still
//! loads.

use std::io::{self, Read, Write};

use super::features::FeatureMatrix;
use super::model::{Aligned, Model, Side};
use super::params::{Params, Schedule};

const MAGIC: &[u8; 8] = b"RECSQLMD";
pub const FORMAT_VERSION: u32 = 2;

/// Why a model file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    params: Params,
    fits: u64,
    user_feature_cols: usize,
    item_feature_cols: usize,
}

pub(super) fn put_len(w: &mut impl Write, n: usize) -> io::Result<()> {
    w.write_all(&(n as u64).to_le_bytes())
}

/// Writes a length and then the elements, little-endian, through a small buffer.
fn put_array<T: Copy, const N: usize>(
    w: &mut impl Write,
    xs: &[T],
    bytes: impl Fn(T) -> [u8; N],
) -> io::Result<()> {
    put_len(w, xs.len())?;
    let mut buf = [0u8; 8192];
    for chunk in xs.chunks(buf.len() / N) {
        for (slot, &x) in buf.chunks_exact_mut(N).zip(chunk) {
            slot.copy_from_slice(&bytes(x));
        }
        w.write_all(&buf[..chunk.len() * N])?;
    }
    Ok(())
}

pub(super) fn put_u64s(w: &mut impl Write, xs: &[usize]) -> io::Result<()> {
    put_array(w, xs, |x| (x as u64).to_le_bytes())
}

pub(super) fn put_u32s(w: &mut impl Write, xs: &[u32]) -> io::Result<()> {
    put_array(w, xs, u32::to_le_bytes)
}

pub(super) fn put_f32s(w: &mut impl Write, xs: &[f32]) -> io::Result<()> {
    put_array(w, xs, f32::to_le_bytes)
}

/// A writer that keeps the CRC-32 of everything written through it, so a file can be
/// streamed to disk with its checksum last instead of being built in memory first.
pub(super) struct Checksummed<W> {
    inner: W,
    hasher: crc32fast::Hasher,
}

impl<W: Write> Checksummed<W> {
    pub(super) fn new(inner: W) -> Self {
        Checksummed {
            inner,
            hasher: crc32fast::Hasher::new(),
        }
    }

    /// Appends the checksum of everything written so far.
    pub(super) fn finish(self) -> io::Result<()> {
        let Checksummed { mut inner, hasher } = self;
        inner.write_all(&hasher.finalize().to_le_bytes())
    }
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Counts the bytes written to it and keeps none.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn put_side(w: &mut impl Write, side: &Side) -> io::Result<()> {
    let (indptr, indices, data) = side.features.parts();
    put_u64s(w, indptr)?;
    put_u32s(w, indices)?;
    put_f32s(w, data)?;
    for xs in [
        &side.emb[..],
        &side.bias,
        &side.emb_g,
        &side.bias_g,
        &side.emb_m,
        &side.bias_m,
    ] {
        put_f32s(w, xs)?;
    }
    Ok(())
}

/// Writes a model to `w`, streamed: nothing the size of the model is buffered.
pub fn save(model: &Model, w: impl Write) -> io::Result<()> {
    let header = Header {
        params: (*model.params).clone(),
        fits: model.fits,
        user_feature_cols: model.users.features.n_cols(),
        item_feature_cols: model.items.features.n_cols(),
    };
    let header = serde_json::to_vec(&header).map_err(io::Error::other)?;
    let mut out = Checksummed::new(w);
    out.write_all(MAGIC)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes())?;
    put_len(&mut out, header.len())?;
    out.write_all(&header)?;
    put_side(&mut out, &model.items)?;
    put_side(&mut out, &model.users)?;
    out.finish()
}

/// The number of bytes `save` writes for `model`.
pub fn saved_len(model: &Model) -> usize {
    let mut c = Counter(0);
    // Counting never fails and the header always serialises.
    let _ = save(model, &mut c);
    c.0
}

/// Serialises a model into memory.
#[cfg(test)]
pub fn to_bytes(model: &Model) -> Vec<u8> {
    let mut out = Vec::with_capacity(saved_len(model));
    // Writing to a Vec never fails.
    let _ = save(model, &mut out);
    out
}

/// Where a loaded array goes: a `Vec`, or the cache-aligned storage of embeddings.
trait Sink<T>: Sized {
    fn with_capacity(n: usize) -> Self;
    fn append(&mut self, chunk: &[T]);
}

impl<T: Copy> Sink<T> for Vec<T> {
    fn with_capacity(n: usize) -> Self {
        Vec::with_capacity(n)
    }
    fn append(&mut self, chunk: &[T]) {
        self.extend_from_slice(chunk);
    }
}

impl Sink<f32> for Aligned {
    fn with_capacity(n: usize) -> Self {
        Aligned::with_capacity(0, n)
    }
    fn append(&mut self, chunk: &[f32]) {
        self.extend_from_slice(chunk);
    }
}

/// Reads a file section by section from a stream, hashing every byte it hands out, so that
/// loading needs no copy of the file in memory and the trailing checksum is checked at the
/// end. It knows how many bytes the section has left, so a damaged length is an error before
/// anything that large is allocated.
pub(super) struct Reader<R> {
    inner: R,
    hasher: crc32fast::Hasher,
    /// Bytes before the section's checksum not yet read.
    left: u64,
}

/// Elements converted per read when loading an array.
const CHUNK_BYTES: usize = 64 * 1024;

fn truncated() -> LoadError {
    LoadError("model file is truncated".into())
}

impl<R: Read> Reader<R> {
    /// A reader of a section of `len` bytes, the last four of them its CRC-32.
    pub(super) fn new(inner: R, len: u64) -> Result<Self, LoadError> {
        let left = len.checked_sub(4).ok_or_else(truncated)?;
        Ok(Reader {
            inner,
            hasher: crc32fast::Hasher::new(),
            left,
        })
    }

    /// Fills `buf` from the section.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), LoadError> {
        if buf.len() as u64 > self.left {
            return Err(truncated());
        }
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => truncated(),
            _ => LoadError(format!("cannot read the model file: {e}")),
        })?;
        self.hasher.update(buf);
        self.left -= buf.len() as u64;
        Ok(())
    }

    pub(super) fn section(&mut self, n: usize) -> Result<Vec<u8>, LoadError> {
        if n as u64 > self.left {
            return Err(truncated());
        }
        let mut v = vec![0; n];
        self.fill(&mut v)?;
        Ok(v)
    }

    fn u32(&mut self) -> Result<u32, LoadError> {
        let mut b = [0; 4];
        self.fill(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub(super) fn u64(&mut self) -> Result<u64, LoadError> {
        let mut b = [0; 8];
        self.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A length prefix of an array of `elem`-byte elements, checked against what is left.
    pub(super) fn len(&mut self, elem: usize) -> Result<usize, LoadError> {
        let n = self.u64()?;
        if n.checked_mul(elem as u64)
            .is_none_or(|bytes| bytes > self.left)
        {
            return Err(LoadError(
                "model file is truncated or damaged (array longer than the file)".into(),
            ));
        }
        usize::try_from(n).map_err(|_| LoadError("array length out of range".into()))
    }

    /// An array: its length, then its little-endian elements, converted a chunk at a time
    /// into the sink it returns.
    fn array<T: Copy, S: Sink<T>, const N: usize>(
        &mut self,
        from: impl Fn([u8; N]) -> T,
    ) -> Result<S, LoadError> {
        let n = self.len(N)?;
        let mut out = S::with_capacity(n);
        let mut buf = vec![0u8; CHUNK_BYTES.min(n * N)];
        let mut chunk = Vec::with_capacity(buf.len() / N);
        let mut done = 0;
        while done < n {
            let bytes = ((n - done) * N).min(buf.len());
            self.fill(&mut buf[..bytes])?;
            chunk.clear();
            chunk.extend(buf[..bytes].chunks_exact(N).map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                from(a)
            }));
            out.append(&chunk);
            done += chunk.len();
        }
        Ok(out)
    }

    pub(super) fn u64s(&mut self) -> Result<Vec<usize>, LoadError> {
        self.array(|b| u64::from_le_bytes(b) as usize)
    }

    pub(super) fn u32s(&mut self) -> Result<Vec<u32>, LoadError> {
        self.array(u32::from_le_bytes)
    }

    pub(super) fn f32s(&mut self) -> Result<Vec<f32>, LoadError> {
        self.array(f32::from_le_bytes)
    }

    fn aligned_f32s(&mut self) -> Result<Aligned, LoadError> {
        self.array(f32::from_le_bytes)
    }

    /// Ends the section: every byte read, and the checksum matches. Returns the stream.
    pub(super) fn finish(mut self) -> Result<R, LoadError> {
        if self.left != 0 {
            return Err(LoadError("model file has trailing bytes".into()));
        }
        let mut crc = [0; 4];
        self.inner.read_exact(&mut crc).map_err(|_| truncated())?;
        if self.hasher.finalize() != u32::from_le_bytes(crc) {
            return Err(LoadError(
                "model file is damaged or truncated (checksum mismatch)".into(),
            ));
        }
        Ok(self.inner)
    }

    /// A reader of a whole file of `len` bytes: checks its magic bytes and rejects format
    /// versions newer than `newest`.
    pub(super) fn open(
        inner: R,
        len: u64,
        magic: &[u8; 8],
        newest: u32,
    ) -> Result<Self, LoadError> {
        let foreign =
            || LoadError("not a recsql model file (wrong magic bytes or too short)".into());
        if len < 16 {
            return Err(foreign());
        }
        let mut r = Reader::new(inner, len)?;
        let mut m = [0u8; 8];
        r.fill(&mut m)?;
        if &m != magic {
            return Err(foreign());
        }
        let version = r.u32()?;
        if version > newest {
            return Err(LoadError(format!(
                "model file format {version} is newer than this recsql reads ({newest})"
            )));
        }
        Ok(r)
    }
}

/// Reading a reader's section reads, and hashes, the enclosing section: a model section
/// nested in an artifact file is covered by both checksums.
impl<R: Read> Read for Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if n == 0 {
            // The section's own checksum lies past `left`; it is read through `finish`.
            return Ok(0);
        }
        let got = self.inner.read(&mut buf[..n])?;
        self.hasher.update(&buf[..got]);
        self.left -= got as u64;
        Ok(got)
    }
}

impl<R: Read> Reader<R> {
    fn side(&mut self, n_cols: usize, d: usize, schedule: Schedule) -> Result<Side, LoadError> {
        let indptr = self.u64s()?;
        let indices = self.u32s()?;
        let data = self.f32s()?;
        let features = FeatureMatrix::from_parts(indptr, indices, data, n_cols)
            .map_err(|e| LoadError(format!("model file is damaged: {e}")))?;
        let mut side = Side {
            features,
            emb: self.aligned_f32s()?,
            bias: self.f32s()?,
            emb_g: self.aligned_f32s()?,
            bias_g: self.f32s()?,
            emb_m: self.aligned_f32s()?,
            bias_m: self.f32s()?,
        };
        let nf = side.bias.len();
        if schedule == Schedule::Adagrad && side.bias_m.len() == nf {
            // A format-1 file: adagrad's unused moments were stored as zeros.
            side.emb_m = Aligned::new(0);
            side.bias_m = Vec::new();
        }
        let moments = if schedule == Schedule::Adadelta {
            nf
        } else {
            0
        };
        if nf != n_cols
            || side.emb.len() != nf * d
            || side.emb_g.len() != nf * d
            || side.emb_m.len() != moments * d
            || side.bias_g.len() != nf
            || side.bias_m.len() != moments
        {
            return Err(LoadError(
                "model file is damaged: array sizes disagree".into(),
            ));
        }
        Ok(side)
    }
}

/// Reads a model of `len` bytes from `r`, streamed; nothing is trusted until the checksum at
/// its end matches.
pub fn load(r: impl Read, len: u64) -> Result<Model, LoadError> {
    let mut r = Reader::open(r, len, MAGIC, FORMAT_VERSION)?;
    let hl = r.len(1)?;
    let header: Header = serde_json::from_slice(&r.section(hl)?)
        .map_err(|e| LoadError(format!("model file header is damaged: {e}")))?;
    let params = header
        .params
        .validate()
        .map_err(|e| LoadError(format!("model file has invalid parameters: {e}")))?;
    let d = params.no_components;
    let items = r.side(header.item_feature_cols, d, params.schedule)?;
    let users = r.side(header.user_feature_cols, d, params.schedule)?;
    r.finish()?;
    Ok(Model {
        params,
        users,
        items,
        fits: header.fits,
    })
}

/// Reads a model from bytes.
#[cfg(test)]
pub fn from_bytes(buf: &[u8]) -> Result<Model, LoadError> {
    load(buf, buf.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommender::{Id, InteractionsBuilder, Loss, Params};

    fn small_model() -> Model {
        small_model_with(Schedule::Adagrad)
    }

    fn small_model_with(schedule: Schedule) -> Model {
        let mut b = InteractionsBuilder::new(None);
        for u in 0..20i64 {
            for k in 0..5 {
                b.push(Id::Int(u), Id::Int((u * 3 + k) % 17), None, 1.0);
            }
        }
        let x = b.build();
        let p = Params::default()
            .loss(Loss::Warp)
            .schedule(schedule)
            .epochs(2)
            .validate()
            .unwrap();
        Model::fit(p, &x, None, None, &mut |_, _, _| true).unwrap()
    }

    #[test]
    fn round_trip_is_exact() {
        let m = small_model();
        let bytes = to_bytes(&m);
        assert_eq!(saved_len(&m), bytes.len());
        assert_eq!(from_bytes(&bytes).unwrap(), m);
    }

    #[test]
    fn adadelta_round_trip_keeps_its_moments() {
        let m = small_model_with(Schedule::Adadelta);
        assert_eq!(m.items.emb_m.len(), m.items.emb.len());
        assert_eq!(from_bytes(&to_bytes(&m)).unwrap(), m);
    }

    #[test]
    fn format_1_adagrad_files_with_stored_moments_still_load() {
        let m = small_model();
        assert!(m.items.emb_m.is_empty() && m.users.bias_m.is_empty());
        let mut old = m.clone();
        for side in [&mut old.items, &mut old.users] {
            side.emb_m = Aligned::from_slice(0, &vec![0.0; side.emb.len()]);
            side.bias_m = vec![0.0; side.bias.len()];
        }
        let mut bytes = to_bytes(&old);
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let body = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(from_bytes(&bytes).unwrap(), m);
    }

    #[test]
    fn damaged_truncated_and_foreign_files_are_errors() {
        let bytes = to_bytes(&small_model());
        for cut in [0, 3, 8, 12, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 0x40;
        assert!(from_bytes(&flipped).unwrap_err().0.contains("damaged"));
        assert!(
            from_bytes(b"PK\x03\x04 a zip file, not a model")
                .unwrap_err()
                .0
                .contains("magic")
        );
        let mut newer = bytes.clone();
        newer[8] = 99;
        assert!(from_bytes(&newer).unwrap_err().0.contains("newer"));
    }
}
