//! How the binary reads stdin and writes stdout. A large file on stdin is mapped rather than
//! read, and a large output widens a stdout pipe. Neither may change a byte of what comes
//! out, and a file on stdin is read from its position on, as `read` would.

mod common;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
#[cfg(target_os = "linux")]
use std::process::Stdio;

/// A stream with a job, padded with ConfigMaps past `bytes`.
fn stream(bytes: usize) -> Vec<u8> {
    let mut text = std::fs::read_to_string(
        common::repo_root().join("testdata/helm3-source-comments/input.yaml"),
    )
    .unwrap();
    let mut i = 0;
    while text.len() < bytes {
        text.push_str(&format!(
            "---\n# Source: shop/templates/padding.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pad-{i}\ndata:\n  text: |\n    {}\n",
            "x".repeat(200)
        ));
        i += 1;
    }
    text.into_bytes()
}

/// The rendering of `input` through a pipe, as Helm hands it over.
fn piped(input: &[u8]) -> Vec<u8> {
    common::succeeded(common::run(&["render"], input), "render through a pipe").into_bytes()
}

/// Renders with stdin a file that holds `prefix` then `input`, positioned after `prefix`;
/// returns the output and where the file's position was after the run.
fn from_file(prefix: &[u8], input: &[u8]) -> (Vec<u8>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.yaml");
    let mut file = File::create(&path).unwrap();
    file.write_all(prefix).unwrap();
    file.write_all(input).unwrap();
    drop(file);
    let mut file = File::open(&path).unwrap();
    file.seek(SeekFrom::Start(prefix.len() as u64)).unwrap();
    let out = common::command(&["render"])
        .stdin(file.try_clone().unwrap())
        .output()
        .unwrap();
    let out = common::succeeded(out, "render from a file").into_bytes();
    // The child's descriptor shared this one's position.
    (out, file.stream_position().unwrap())
}

#[test]
fn a_file_on_stdin_renders_as_the_same_stream_through_a_pipe() {
    // Below and above the size from which a file is mapped.
    for size in [4_000, 3 << 20] {
        let input = stream(size);
        let expected = piped(&input);
        assert!(
            expected.len() > input.len(),
            "the job's documents were added"
        );
        let (out, _) = from_file(b"", &input);
        assert!(
            out == expected,
            "a {size}-byte file gives the same output as a pipe"
        );
    }
}

#[test]
fn a_file_on_stdin_is_read_from_its_position_to_the_end() {
    // Bytes before the position are not UTF-8: read from the start, the stream is refused.
    let prefix = [0xff_u8; 4096];
    for size in [4_000, 3 << 20] {
        let input = stream(size);
        let (out, position) = from_file(&prefix, &input);
        assert!(
            out == piped(&input),
            "a {size}-byte file is read from its position"
        );
        assert_eq!(
            position,
            (prefix.len() + input.len()) as u64,
            "stdin is left at its end, as reading it would leave it"
        );
    }
}

/// A render with stdin and stdout pipes of the test's own, to ask their size.
#[cfg(target_os = "linux")]
fn spawn_render() -> std::process::Child {
    common::command(&["render"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The buffer size of the pipe that a render of `input` wrote into.
#[cfg(target_os = "linux")]
fn stdout_pipe_size(input: &[u8]) -> usize {
    let mut child = spawn_render();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let mut stdout = child.stdout.take().unwrap();
    let mut out = Vec::new();
    stdout.read_to_end(&mut out).unwrap();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    assert!(out == piped(input), "the output is the same in any pipe");
    rustix::pipe::fcntl_getpipe_size(&stdout).unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_large_output_widens_a_stdout_pipe_and_a_small_one_does_not() {
    let default = stdout_pipe_size(&stream(4_000));
    assert!(
        default < 1 << 20,
        "a small output leaves the pipe as it was"
    );
    assert_eq!(
        stdout_pipe_size(&stream(3 << 20)),
        1 << 20,
        "a large output asks for a 1 MiB pipe"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_pipe_on_stdin_is_widened_before_it_is_read() {
    use std::os::fd::OwnedFd;
    let input = stream(3 << 20);
    let mut child = spawn_render();
    let stdin = OwnedFd::from(child.stdin.take().unwrap());
    // A second handle on the pipe's write end, to ask its size: while it is open the child
    // sees no end of input, so it is closed as soon as the size is known.
    let probe = stdin.try_clone().unwrap();
    let data = input.clone();
    let writer = std::thread::spawn(move || File::from(stdin).write_all(&data));
    let reader = {
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            stdout.read_to_end(&mut out).map(|_| out)
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut size = rustix::pipe::fcntl_getpipe_size(&probe).unwrap();
    while size < 1 << 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
        size = rustix::pipe::fcntl_getpipe_size(&probe).unwrap();
    }
    drop(probe);
    writer.join().unwrap().unwrap();
    let out = reader.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(size, 1 << 20, "the stdin pipe was widened to 1 MiB");
    assert!(out == piped(&input), "the output is the same");
}
