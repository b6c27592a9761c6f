//! Just enough HTTP/1.1 for `archforge serve`: one `GET` per connection, read up to the end
//! of its headers, answered with a whole response (its length given) and closed.

use std::io::{Read, Write};
use std::net::TcpStream;

/// The most a request's line and headers may take.
const MAX_HEAD: usize = 16 * 1024;

/// A `GET` request: its path and query parameters (not percent-decoded: the server's are
/// numbers).
#[derive(Debug, PartialEq)]
pub struct Request {
    /// The path, `/runs/3`.
    pub path: String,
    /// The query's `key=value` pairs.
    pub query: Vec<(String, String)>,
}

impl Request {
    /// The value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The request of a head (`GET /path?query HTTP/1.1` and headers); why not, when it is
    /// not one this server answers.
    pub fn parse(head: &str) -> Result<Request, Response> {
        let line = head.lines().next().unwrap_or_default();
        let mut words = line.split(' ');
        let (Some(method), Some(target)) = (words.next(), words.next()) else {
            return Err(Response::text(
                400,
                "a request line is `GET /path HTTP/1.1`",
            ));
        };
        if method != "GET" {
            return Err(Response::text(405, "only GET is served"));
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        Ok(Request {
            path: path.to_string(),
            query,
        })
    }

    /// Reads one request's head from `stream`.
    pub fn read(stream: &mut TcpStream) -> Result<Request, Response> {
        let mut head = Vec::new();
        let mut chunk = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            if head.len() > MAX_HEAD {
                return Err(Response::text(431, "the request's headers are too long"));
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
        Request::parse(&String::from_utf8_lossy(&head))
    }
}

/// A whole response.
#[derive(Debug, PartialEq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Its media type.
    pub content_type: &'static str,
    /// Its body.
    pub body: Vec<u8>,
}

impl Response {
    /// An HTML page.
    pub fn html(body: String) -> Response {
        Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
        }
    }

    /// A JSON document.
    pub fn json(value: &serde_json::Value) -> Response {
        Response {
            status: 200,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    /// A plain-text answer with status `status` (an error, one line).
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: (text.into() + "\n").into_bytes(),
        }
    }

    /// Writes it to `stream`; a client that went away is not an error of the server's.
    pub fn send(&self, stream: &mut TcpStream) {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Internal Server Error",
        };
        let head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(&self.body))
            .and_then(|()| stream.flush());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_is_read_with_its_query_and_anything_else_refused() {
        let request =
            Request::parse("GET /runs/3/rows?after=120&x HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(request.path, "/runs/3/rows");
        assert_eq!(request.param("after"), Some("120"));
        assert_eq!(request.param("x"), Some(""));
        assert_eq!(request.param("y"), None);
        assert_eq!(
            Request::parse("POST / HTTP/1.1\r\n\r\n")
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(Request::parse("").unwrap_err().status, 400);
    }
}
