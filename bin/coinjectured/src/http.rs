//! A small blocking HTTP/1.1 client for a node's REST API (`wallet`, the devnet's block log):
//! plain `http://host:port[/prefix]`, JSON in and out, one connection per request, timeouts on
//! connect and read. No TLS: put a TLS-terminating proxy's plain side behind `--node`, or use
//! the gRPC API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use eyre::{bail, eyre};
use serde_json::Value;

/// How long connecting and each read may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest response body read (the API's block pages stay far below it).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// A node's REST API base URL, e.g. `http://127.0.0.1:8080`.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `host:port` as given (for the Host header and messages).
    authority: String,
    /// Path prefix without a trailing slash ("" or e.g. "/node-1").
    prefix: String,
    /// The URL as the user wrote it (for messages).
    pub(crate) url: String,
}

/// A response: status code and body parsed as JSON (`Value::Null` for an empty or non-JSON body).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) json: Value,
    pub(crate) text: String,
}

impl Node {
    /// Parses `http://host:port[/prefix]` (`host:port` alone means http).
    pub(crate) fn parse(url: &str) -> eyre::Result<Self> {
        let trimmed = url.trim();
        let rest = if let Some(rest) = trimmed.strip_prefix("http://") {
            rest
        } else if trimmed.starts_with("https://") {
            bail!("--node {trimmed}: https is not supported by this client; give the node's plain http:// address")
        } else if trimmed.contains("://") {
            bail!("--node {trimmed}: expected an http:// URL, e.g. http://127.0.0.1:8080")
        } else {
            trimmed
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            bail!("--node {trimmed}: no host, expected e.g. http://127.0.0.1:8080");
        }
        let authority = if authority.rsplit_once(':').is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            && !authority.ends_with(']')
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Self { authority, prefix: prefix.to_string(), url: trimmed.trim_end_matches('/').to_string() })
    }

    pub(crate) fn get(&self, path: &str) -> eyre::Result<Answer> {
        self.request("GET", path, None)
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> eyre::Result<Answer> {
        self.request("POST", path, Some(body.to_string()))
    }

    fn addresses(&self) -> eyre::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = self
            .authority
            .to_socket_addrs()
            .map_err(|e| eyre!("cannot reach the node at {}: cannot resolve {}: {e}", self.url, self.authority))?
            .collect();
        if addrs.is_empty() {
            bail!("cannot reach the node at {}: {} resolves to no address", self.url, self.authority);
        }
        Ok(addrs)
    }

    fn request(&self, method: &str, path: &str, body: Option<String>) -> eyre::Result<Answer> {
        let mut last_error = None;
        let mut stream = None;
        for addr in self.addresses()? {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let Some(mut stream) = stream else {
            let e = last_error.map_or("no address".to_string(), |e| e.to_string());
            bail!("cannot reach the node at {}: {e} (is it running? pass its REST API address with --node)", self.url);
        };
        let unreachable = |e: std::io::Error| eyre!("node {}: {method} {path}: {e}", self.url);
        stream.set_read_timeout(Some(TIMEOUT)).map_err(unreachable)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(unreachable)?;
        let body = body.unwrap_or_default();
        let content = if method == "POST" {
            format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len())
        } else {
            String::new()
        };
        let target = format!("{}{path}", self.prefix);
        let target = if target.is_empty() { "/".to_string() } else { target };
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: coinjectured/{}\r\n{content}Connection: close\r\n\r\n",
            self.authority,
            env!("CARGO_PKG_VERSION"),
        );
        stream.write_all(head.as_bytes()).map_err(unreachable)?;
        stream.write_all(body.as_bytes()).map_err(unreachable)?;
        let mut reader = BufReader::new(stream);
        let (status, text) =
            read_response(&mut reader).map_err(|e| eyre!("node {}: {method} {path}: {e}", self.url))?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer { status, json, text })
    }
}

/// Reads a status line, headers and a body (Content-Length, chunked, or until close).
fn read_response(reader: &mut impl BufRead) -> Result<(u16, String), String> {
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| format!("reading the answer: {e}"))?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP answer (is this the node's REST port?): {:?}", line.trim()))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(|e| format!("reading the headers: {e}"))?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(|e| format!("reading a chunk: {e}"))?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| format!("bad chunk size {:?}", line.trim()))?;
            if size == 0 {
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(format!("answer larger than {MAX_BODY} bytes"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).map_err(|e| format!("reading a chunk: {e}"))?;
            line.clear();
            reader.read_line(&mut line).map_err(|e| format!("reading a chunk: {e}"))?;
        }
    } else if let Some(length) = length {
        if length > MAX_BODY {
            return Err(format!("answer larger than {MAX_BODY} bytes"));
        }
        body.resize(length, 0);
        reader.read_exact(&mut body).map_err(|e| format!("reading the body: {e}"))?;
    } else {
        reader.take(MAX_BODY as u64).read_to_end(&mut body).map_err(|e| format!("reading the body: {e}"))?;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_say_why() {
        let n = Node::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!((n.authority.as_str(), n.prefix.as_str()), ("127.0.0.1:8080", ""));
        let n = Node::parse("localhost:9000/node-1/").unwrap();
        assert_eq!((n.authority.as_str(), n.prefix.as_str()), ("localhost:9000", "/node-1"));
        assert_eq!(Node::parse("http://example.org").unwrap().authority, "example.org:80");
        assert!(Node::parse("https://x:1").unwrap_err().to_string().contains("https is not supported"));
        assert!(Node::parse("ftp://x:1").unwrap_err().to_string().contains("expected an http:// URL"));
    }

    #[test]
    fn bodies_by_length_chunks_or_close() {
        let by_length = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(read_response(&mut &by_length[..]).unwrap(), (200, "{}".into()));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(read_response(&mut &chunked[..]).unwrap(), (404, "{\"a\":1}".into()));
        let close = b"HTTP/1.1 503 Service Unavailable\r\n\r\nnope";
        assert_eq!(read_response(&mut &close[..]).unwrap(), (503, "nope".into()));
        assert!(read_response(&mut &b"SSH-2.0-x\r\n"[..]).unwrap_err().contains("not an HTTP answer"));
    }

    #[test]
    fn an_unreachable_node_is_named() {
        // A port nothing listens on: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let node = Node::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let e = node.get("/v1/status").unwrap_err().to_string();
        assert!(e.contains("cannot reach the node at http://127.0.0.1:") && e.contains("--node"), "{e}");
    }
}
