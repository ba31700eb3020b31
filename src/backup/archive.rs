//! The backup stream: tar -> zstd -> age, written and read with constant memory.
//! Writing hashes every member on the way through so the manifest (the last
//! member) needs no second pass; reading classifies failures as truncated,
//! corrupted or wrong key from what the age layer saw.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::manifest::{self, Manifest, Member};
use super::progress::Step;
use super::{BackupError, Result};

type Sink<W> = zstd::stream::write::Encoder<'static, age::stream::StreamWriter<W>>;

/// Bytes read from a member file per call.
const COPY_BUF: usize = 1 << 20;

/// Writes one backup stream into `W`.
pub struct ArchiveWriter<W: Write> {
    tar: tar::Builder<Sink<W>>,
    members: Vec<Member>,
    mtime: u64,
    /// One copy buffer for every member (see [`ArchiveWriter::add_prefix`]).
    buf: Vec<u8>,
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts the stream: age header to `out`, then a zstd frame inside it.
    pub fn new(
        out: W,
        recipients: &[age::x25519::Recipient],
        level: i32,
        workers: u32,
    ) -> io::Result<Self> {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| io::Error::other(format!("age: {e}")))?;
        let age = encryptor.wrap_output(out)?;
        let mut zstd = zstd::stream::write::Encoder::new(age, level)?;
        if workers > 0 {
            zstd.multithread(workers)?;
        }
        let mut tar = tar::Builder::new(zstd);
        tar.mode(tar::HeaderMode::Deterministic);
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(Self {
            tar,
            members: Vec::new(),
            mtime,
            buf: vec![0; COPY_BUF],
        })
    }

    /// Streams the file at `path` in as member `name`, hashing it on the way.
    pub fn add_file(&mut self, name: &str, kind: &str, path: &Path, step: &Step) -> io::Result<()> {
        let size = std::fs::metadata(path)?.len();
        self.add_prefix(name, kind, path, size, step)
    }

    /// Streams the first `size` bytes of the file at `path` in as member `name`.
    pub fn add_prefix(
        &mut self,
        name: &str,
        kind: &str,
        path: &Path,
        size: u64,
        step: &Step,
    ) -> io::Result<()> {
        let file = File::open(path)?;
        let mut header = self.header(size, 0o600);
        let mut reader = Hashing::new(file.take(size), step.clone());
        if header.set_path(name).is_ok() {
            // tar's own append_data copies through `dyn Read`/`dyn Write` in 8 KiB
            // pieces: for a 1 GiB database that is 130,000 reads and zstd calls.
            // Names that fit the header (all but very long wallet paths) get the
            // same header written here and the data in 1 MiB pieces.
            header.set_cksum();
            let out = self.tar.get_mut();
            out.write_all(header.as_bytes())?;
            loop {
                let n = match reader.read(&mut self.buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                out.write_all(&self.buf[..n])?;
            }
            let pad = (512 - reader.done % 512) % 512;
            out.write_all(&[0; 512][..pad as usize])?;
        } else {
            self.tar.append_data(&mut header, name, &mut reader)?;
        }
        if reader.done != size {
            return Err(io::Error::other(format!(
                "{} changed size while it was being copied",
                path.display()
            )));
        }
        self.members.push(Member {
            path: name.to_owned(),
            kind: kind.to_owned(),
            size,
            sha256: reader.hex(),
        });
        Ok(())
    }

    /// Appends the manifest (with every member added so far) and closes the
    /// zstd frame and the age stream. The caller still has to flush and fsync.
    pub fn finish(mut self, mut manifest: Manifest) -> io::Result<W> {
        manifest.members = std::mem::take(&mut self.members);
        let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
        let mut header = self.header(json.len() as u64, 0o600);
        self.tar
            .append_data(&mut header, manifest::NAME, json.as_slice())?;
        let zstd = self.tar.into_inner()?;
        let age = zstd.finish()?;
        age.finish()
    }

    fn header(&self, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(self.mtime);
        h.set_entry_type(tar::EntryType::Regular);
        h
    }
}

/// Passes bytes through, hashing and counting them.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    done: u64,
    step: Step,
}

impl<R> Hashing<R> {
    fn new(inner: R, step: Step) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            done: 0,
            step,
        }
    }

    fn hex(&self) -> String {
        hex(&self.hash.clone().finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.done += n as u64;
        self.step.set(self.done);
        Ok(n)
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `r` into `w`, returning size and SHA-256 of what passed.
pub fn copy_hashing<R: Read + ?Sized>(r: &mut R, w: &mut impl Write) -> io::Result<(u64, String)> {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hash.update(&buf[..n]);
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
    Ok((total, hex(&hash.finalize())))
}

/// What the age layer reported, shared with the code that classifies errors.
#[derive(Default)]
struct Seen {
    /// Encrypted bytes consumed from the file.
    consumed: AtomicU64,
    /// 0 fine, 1 truncated at a chunk boundary, 2 a chunk failed authentication.
    age_failure: AtomicU8,
}

/// Counts bytes read from the backup file and drives the progress bar.
struct Counting {
    file: File,
    seen: Arc<Seen>,
    step: Step,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let done = self.seen.consumed.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        self.step.set(done);
        Ok(n)
    }
}

/// Notes age's stream errors before the zstd and tar layers rewrap them.
struct Watch<R> {
    inner: R,
    seen: Arc<Seen>,
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let code = match e.kind() {
                io::ErrorKind::UnexpectedEof => 1,
                io::ErrorKind::InvalidData => 2,
                _ => 0,
            };
            self.seen.age_failure.store(code, Ordering::Relaxed);
        })
    }
}

/// How every age v1 file starts.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

type Plain =
    zstd::stream::read::Decoder<'static, io::BufReader<Watch<age::stream::StreamReader<Counting>>>>;

/// Reads one backup stream from a file.
pub struct ArchiveReader {
    path: PathBuf,
    file_len: u64,
    seen: Arc<Seen>,
    archive: tar::Archive<Plain>,
}

impl ArchiveReader {
    /// Opens `path` and decrypts its header with `identities`.
    pub fn open(
        path: &Path,
        identity_file: &Path,
        identities: &[Box<dyn age::Identity>],
        step: Step,
    ) -> Result<Self> {
        let mut file = File::open(path)
            .map_err(|e| BackupError::io(format!("cannot open {}", path.display()), path, e))?;
        // A file that does not even start like an age file is not "truncated".
        let mut magic = Vec::with_capacity(AGE_MAGIC.len());
        (&mut file)
            .take(AGE_MAGIC.len() as u64)
            .read_to_end(&mut magic)
            .map_err(|e| BackupError::io(format!("cannot read {}", path.display()), path, e))?;
        if magic.is_empty() || !AGE_MAGIC.starts_with(&magic) {
            return Err(BackupError::NotABackup {
                path: path.to_path_buf(),
                reason: "it is not an age-encrypted file".to_owned(),
            });
        }
        std::io::Seek::rewind(&mut file)
            .map_err(|e| BackupError::io(format!("cannot read {}", path.display()), path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| BackupError::io(format!("cannot read {}", path.display()), path, e))?
            .len();
        let seen = Arc::new(Seen::default());
        let counting = Counting {
            file,
            seen: seen.clone(),
            step,
        };
        let decryptor = age::Decryptor::new(counting).map_err(|e| header_error(path, e))?;
        let plain = decryptor
            .decrypt(identities.iter().map(|i| i.as_ref()))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => BackupError::WrongKey {
                    backup: path.to_path_buf(),
                    identity: identity_file.to_path_buf(),
                },
                other => header_error(path, other),
            })?;
        let watched = Watch {
            inner: plain,
            seen: seen.clone(),
        };
        let zstd = zstd::stream::read::Decoder::new(watched)
            .map_err(|e| BackupError::Other(format!("cannot start zstd: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            file_len,
            seen,
            archive: tar::Archive::new(zstd),
        })
    }

    /// Calls `each` for every member with its validated name and a reader of its
    /// bytes, then reads the stream to its end so the final age chunk is
    /// authenticated too.
    pub fn for_each(self, mut each: impl FnMut(&str, &mut dyn Read) -> Result<()>) -> Result<()> {
        let Self {
            path,
            file_len,
            seen,
            mut archive,
        } = self;
        let classify = |e: io::Error| classify(&path, file_len, &seen, e);
        let not_a_backup = |reason: String| BackupError::NotABackup {
            path: path.clone(),
            reason,
        };
        let mut names = Vec::new();
        for entry in archive.entries().map_err(classify)? {
            let mut entry = entry.map_err(classify)?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(not_a_backup(
                    "it holds something other than regular files".to_owned(),
                ));
            }
            let text = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = safe_name(&text).ok_or_else(|| {
                not_a_backup(format!("member name {text:?} is not a plain relative path"))
            })?;
            if names.contains(&name) {
                return Err(not_a_backup(format!("member {name} appears twice")));
            }
            names.push(name.clone());
            match each(&name, &mut entry) {
                Ok(()) => {}
                // An I/O error inside `each` may come from the stream as well.
                Err(BackupError::Io { source, .. })
                    if seen.age_failure.load(Ordering::Relaxed) != 0 =>
                {
                    return Err(classify(source));
                }
                Err(e) => return Err(e),
            }
        }
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(classify)?;
        Ok(())
    }
}

/// A member name that stays inside the directory it is unpacked into.
fn safe_name(name: &str) -> Option<String> {
    let p = Path::new(name);
    let ok = !name.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    ok.then(|| name.to_owned())
}

/// Turns an error seen while reading the stream into the one line that says
/// which of truncated / corrupted / not a backup it is.
fn classify(path: &Path, file_len: u64, seen: &Seen, e: io::Error) -> BackupError {
    let consumed = seen.consumed.load(Ordering::Relaxed);
    match seen.age_failure.load(Ordering::Relaxed) {
        1 => BackupError::Truncated(path.to_path_buf()),
        // age reads a whole 64 KiB chunk before authenticating it: a failure after
        // reading up to the end of the file is the last chunk (cut short), one
        // earlier is damage in the middle.
        2 if consumed >= file_len => BackupError::Truncated(path.to_path_buf()),
        2 => BackupError::Corrupted {
            path: path.to_path_buf(),
            offset: consumed.saturating_sub(64 * 1024),
        },
        _ if e.kind() == io::ErrorKind::UnexpectedEof => BackupError::Truncated(path.to_path_buf()),
        _ => BackupError::NotABackup {
            path: path.to_path_buf(),
            reason: format!("it decrypts, but is not a zstd-compressed tar stream ({e})"),
        },
    }
}

fn header_error(path: &Path, e: age::DecryptError) -> BackupError {
    match e {
        age::DecryptError::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            BackupError::Truncated(path.to_path_buf())
        }
        age::DecryptError::Io(io) => {
            BackupError::io(format!("cannot read {}", path.display()), path, io)
        }
        age::DecryptError::InvalidMac | age::DecryptError::DecryptionFailed => {
            BackupError::Corrupted {
                path: path.to_path_buf(),
                offset: 0,
            }
        }
        age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat => {
            BackupError::NotABackup {
                path: path.to_path_buf(),
                reason: "it is not an age-encrypted file (or its header is damaged)".to_owned(),
            }
        }
        other => BackupError::NotABackup {
            path: path.to_path_buf(),
            reason: format!("age cannot decrypt it: {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_are_accepted() {
        assert_eq!(
            safe_name("wallets/0/w.keys").as_deref(),
            Some("wallets/0/w.keys")
        );
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "./a"] {
            assert_eq!(safe_name(bad), None, "{bad}");
        }
    }
}
