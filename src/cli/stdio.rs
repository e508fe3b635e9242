//! stdin and stdout for streams: the whole of stdin as one buffer, and stdout written in one
//! go once everything is built (Helm must never receive half a stream).
//!
//! Two things here exist only for speed, and change nothing a reader of stdout can see:
//! - A stdin that is a large regular file (`deploy-jobs render < rendered.yaml`) is mapped
//!   rather than read, as ripgrep reads files: reading 100 MB into fresh memory costs more
//!   than everything deploy-jobs does with it, a mapping of the page cache almost nothing.
//! - A pipe gets a larger buffer (1 MiB, from 64 KiB), so that the other side is woken a
//!   sixteenth as often: stdin always (Helm writes the stream into one), stdout before a
//!   large output (Helm reads a post-renderer's output from one).

use std::io::{self, IsTerminal, Read, Write};
use std::ops::Deref;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

/// Below this, a file is read: mapping costs a few system calls more than it saves.
const MAP_AT_LEAST: u64 = 1 << 20;

/// The size asked for a pipe on stdin, and on stdout before a large output. Linux lets anyone raise a pipe to
/// 1 MiB (`/proc/sys/fs/pipe-max-size`); it is 64 KiB to begin with.
const PIPE_SIZE: usize = 1 << 20;

/// The whole of stdin.
pub(super) enum Input {
    Read(Vec<u8>),
    #[cfg(unix)]
    Mapped(memmap2::Mmap),
}

impl Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Input::Read(bytes) => bytes,
            #[cfg(unix)]
            Input::Mapped(map) => map,
        }
    }
}

/// Reads all of stdin; `command` names the subcommand in the message for a terminal.
pub(super) fn read_stdin(command: &str) -> Result<Input> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        bail!(
            "expects a rendered manifest stream on stdin, e.g. `helm template shop ./chart | deploy-jobs {command}`"
        );
    }
    #[cfg(unix)]
    if let Some(map) = map_regular_file(&stdin).context("reading stdin")? {
        return Ok(Input::Mapped(map));
    }
    // A pipe (Helm hands its stream over through one): a larger buffer lets the writer hand
    // over more at a time.
    widen_pipe(&stdin);
    let mut input = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut input)
        .context("reading stdin")?;
    Ok(Input::Read(input))
}

/// stdin mapped from where its file position is to the end, when it is a regular file of at
/// least [`MAP_AT_LEAST`] bytes from there; the position is then moved to the end, as
/// reading it would. `None` for anything else (a pipe, a terminal, a small file).
#[cfg(unix)]
fn map_regular_file(stdin: &io::Stdin) -> io::Result<Option<memmap2::Mmap>> {
    use std::io::{Seek, SeekFrom};
    use std::os::fd::AsFd;

    // A second descriptor for the same open file: it shares stdin's position.
    let mut file = std::fs::File::from(stdin.as_fd().try_clone_to_owned()?);
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Ok(None);
    }
    let start = file.stream_position()?;
    let Some(len) = meta.len().checked_sub(start).filter(|&l| l >= MAP_AT_LEAST) else {
        return Ok(None);
    };
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    // SAFETY: the mapping is read-only and private, and lives as long as the `Input` that
    // owns it. What mapping cannot rule out is another process writing or truncating the
    // file while deploy-jobs runs (ripgrep makes the same trade): a writer could then change
    // bytes after they were checked, or a truncation end the process with SIGBUS. Neither
    // is possible for a stream that Helm or a shell pipe hands over, which is never a file;
    // and a file being rewritten while it is read would give a wrong result with `read` too.
    #[allow(unsafe_code)]
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(start)
            .len(len)
            .populate()
            .map(&file)?
    };
    file.seek(SeekFrom::End(0))?;
    Ok(Some(map))
}

/// Writes `pieces` to stdout, one after the other. A reader that went away (`| head`) is
/// not an error.
pub(super) fn write_stdout<'a>(pieces: impl Iterator<Item = &'a [u8]> + Clone) -> Result<ExitCode> {
    let stdout = io::stdout();
    if pieces.clone().map(<[u8]>::len).sum::<usize>() > PIPE_SIZE {
        widen_pipe(&stdout);
    }
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = pieces
        .into_iter()
        .try_for_each(|p| out.write_all(p))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("writing stdout"),
    }
}

/// Asks for a larger buffer when `fd` is a pipe with a smaller one. Nothing else changes
/// when the system refuses, or it is no pipe: the same bytes go through, in more turns.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn widen_pipe(fd: impl std::os::fd::AsFd) {
    if rustix::pipe::fcntl_getpipe_size(&fd).is_ok_and(|size| size < PIPE_SIZE) {
        let _ = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_SIZE);
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn widen_pipe<T>(_: T) {}
