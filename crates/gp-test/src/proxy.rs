//! A loopback HTTP/1.1 proxy in front of a test server that can answer
//! some requests itself, as a throttled AWS endpoint does: every request is
//! counted, and the ones the rule picks get an error response instead of
//! reaching the server. One request per connection (`Connection: close`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Which requests are answered with an error: `Some((status, content
/// type, body))` for the n-th request (1-based) whose head is given.
pub type Rule = dyn Fn(usize, &str) -> Option<(u16, &'static str, String)> + Send + Sync;

/// Which requests reach the server but whose answer is lost (the
/// connection closed before any reply), from the request's head and
/// body: what a client sees when a response is lost on the way back.
pub type Lose = dyn Fn(&str, &[u8]) -> bool + Send + Sync;

/// The running proxy.
pub struct Proxy {
    port: u16,
    /// Requests seen.
    pub requests: Arc<AtomicUsize>,
    /// Requests answered by the rule.
    pub refused: Arc<AtomicUsize>,
    /// Request lines seen (method and path), in order, with whether the
    /// rule answered them (`true`) or they were forwarded.
    pub seen: Arc<std::sync::Mutex<Vec<(String, bool)>>>,
    /// Requests forwarded whose answer was lost.
    pub lost: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// A proxy to `127.0.0.1:upstream`.
    pub fn start(upstream: u16, rule: Box<Rule>) -> Proxy {
        Self::start_with(upstream, rule, Box::new(|_, _| false))
    }

    /// A proxy to `127.0.0.1:upstream` that forwards every request and
    /// loses the answer of those `lose` picks.
    pub fn losing(upstream: u16, lose: Box<Lose>) -> Proxy {
        Self::start_with(upstream, Box::new(|_, _| None), lose)
    }

    fn start_with(upstream: u16, rule: Box<Rule>, lose: Box<Lose>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lost = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let rule: Arc<Rule> = Arc::from(rule);
        let lose: Arc<Lose> = Arc::from(lose);
        {
            let (requests, refused, seen, lost, stop) = (
                requests.clone(),
                refused.clone(),
                seen.clone(),
                lost.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (requests, refused, seen, lost, rule, lose) = (
                        requests.clone(),
                        refused.clone(),
                        seen.clone(),
                        lost.clone(),
                        rule.clone(),
                        lose.clone(),
                    );
                    std::thread::spawn(move || {
                        let counts = Counts {
                            requests: &requests,
                            refused: &refused,
                            lost: &lost,
                            seen: &seen,
                        };
                        let _ = serve(conn, upstream, &counts, &*rule, &*lose);
                    });
                }
            });
        }
        Proxy {
            port,
            requests,
            refused,
            seen,
            lost,
            stop,
        }
    }

    /// The proxy's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one request: head and body (by Content-Length).
fn read_request(conn: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

struct Counts<'a> {
    requests: &'a AtomicUsize,
    refused: &'a AtomicUsize,
    lost: &'a AtomicUsize,
    seen: &'a std::sync::Mutex<Vec<(String, bool)>>,
}

fn serve(
    mut conn: TcpStream,
    upstream: u16,
    counts: &Counts<'_>,
    rule: &Rule,
    lose: &Lose,
) -> std::io::Result<()> {
    let (head, body) = read_request(&mut conn)?;
    let n = counts.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let first = head.lines().next().unwrap_or_default().to_string();
    let answer = rule(n, &first);
    counts
        .seen
        .lock()
        .unwrap()
        .push((first.clone(), answer.is_some()));
    if let Some((status, content_type, text)) = answer {
        counts.refused.fetch_add(1, Ordering::SeqCst);
        let reply = format!(
            "HTTP/1.1 {status} Error\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: proxy-{n}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        conn.write_all(reply.as_bytes())?;
        return Ok(());
    }
    // Forward with the connection closed after the one response.
    let mut forwarded = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(forwarded.as_bytes())?;
    up.write_all(&body)?;
    let mut reply = Vec::new();
    up.read_to_end(&mut reply)?;
    if lose(&head, &body) {
        // The server did it; the client never hears.
        counts.lost.fetch_add(1, Ordering::SeqCst);
        return Ok(());
    }
    conn.write_all(&reply)?;
    Ok(())
}

/// Route 53's throttling error body (`Throttling`, or with
/// `prior: true`, `PriorRequestNotComplete`).
pub fn route53_throttled(prior: bool) -> (u16, &'static str, String) {
    let (code, message) = if prior {
        (
            "PriorRequestNotComplete",
            "The request was rejected because Route 53 was still processing a prior request.",
        )
    } else {
        ("Throttling", "Rate exceeded")
    };
    (
        400,
        "text/xml",
        format!(
            "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
        ),
    )
}
