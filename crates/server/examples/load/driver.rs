//! The load-generating process (the example started again with `--drive`): one thread, the
//! requests built as bytes before the clock starts, written and read on raw HTTP/1.1
//! keep-alive connections, so that the figure is the server's.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::measure::{cpu_secs, ms, percentile};
use crate::servers::VERIFIER;

/// One verification as the bytes sent, and the answer expected.
struct Job {
    request: Vec<u8>,
    accept: bool,
}

/// The load-generating process: connects `--concurrency` keep-alive connections, spread over
/// the targets, then sends every job of the file once, each connection one request at a time,
/// and prints the throughput and latencies it saw.
pub async fn drive(jobs_file: &Path, targets: &str, concurrency: usize, max_seconds: u64) {
    let text = std::fs::read_to_string(jobs_file).unwrap();
    let jobs: Vec<Job> = text
        .lines()
        .map(|line| {
            let (accept, body) = line.split_once(' ').unwrap();
            let request = format!(
                "POST /v1/admin/verify HTTP/1.1\r\nhost: 127.0.0.1\r\n\
                 authorization: Bearer {VERIFIER}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
            Job { request: request.into_bytes(), accept: accept == "1" }
        })
        .collect();
    let targets: Vec<&str> = targets.split(',').collect();
    let mut connections = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let stream = TcpStream::connect(targets[i % targets.len()]).await.unwrap();
        stream.set_nodelay(true).unwrap();
        connections.push(stream);
    }
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let mismatches = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(max_seconds);
    let cpu = cpu_secs();
    let started = Instant::now();
    let mut workers = Vec::new();
    for stream in connections {
        let (jobs, next, mismatches) = (jobs.clone(), next.clone(), mismatches.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut buf = Vec::with_capacity(1024);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if Instant::now() > deadline {
                    break;
                }
                let begin = Instant::now();
                let answer = exchange(&stream, &job.request, &mut buf).await;
                latencies.push(begin.elapsed());
                match answer {
                    Ok((status, body)) => {
                        let accepted = body.windows(15).any(|w| w == br#""accepted":true"#);
                        if status != 200 || accepted != job.accept {
                            // The first few are shown, so that a mismatch can be explained.
                            if mismatches.fetch_add(1, Ordering::Relaxed) < 5 {
                                let tail = job.request.len().saturating_sub(80);
                                eprintln!(
                                    "load generator: unexpected answer {status} {} to {}",
                                    String::from_utf8_lossy(&body),
                                    String::from_utf8_lossy(&job.request[tail..]).escape_debug()
                                );
                            }
                        }
                    }
                    Err(e) => {
                        eprintln!("load generator: connection failed: {e}");
                        mismatches.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let done = latencies.len();
    println!(
        "verify over HTTP: {done} verifications ({} expected accepted) in {:.2} s = {:.0} verifications/s; {} unexpected answers",
        jobs.iter().filter(|j| j.accept).count(),
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        mismatches.load(Ordering::Relaxed)
    );
    if !latencies.is_empty() {
        println!(
            "  verify latency: p50 {}, p99 {}, max {}",
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99)),
            ms(*latencies.last().unwrap())
        );
    }
    println!("  load generator CPU: {:.2} s (one thread)", cpu_secs() - cpu);
}

/// Writes one request and reads its response on a keep-alive connection: the status code and
/// the body (the server always sends `content-length`).
pub async fn exchange(
    stream: &TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut written = 0;
    while written < request.len() {
        stream.writable().await?;
        match stream.try_write(&request[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(std::io::Error::other)?;
            let status: u16 =
                head.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .ok_or_else(|| bad("content-length"))?;
            let total = end + 4 + length;
            if buf.len() >= total {
                let body = buf[end + 4..total].to_vec();
                buf.drain(..total);
                return Ok((status, body));
            }
        }
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::other(format!("the server's answer has no valid {what}"))
}
