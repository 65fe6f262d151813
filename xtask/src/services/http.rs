//! The little HTTP a run needs: a free port on the loopback for a server to listen on, and the status
//! a readiness URL answers (`GET`, HTTP/1.0, no body read), with the standard library alone.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A port nobody listens on right now (the kernel's pick); a server told it may still lose a race
/// for it, which its start says (`address already in use`) and the caller retries.
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// The status `url` answers a GET with, within `timeout`; why not, when it does not.
pub(crate) fn status(url: &str, timeout: Duration) -> Result<u16, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url} is not an http:// URL"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let address = authority
        .to_socket_addrs()
        .map_err(|error| format!("{authority}: {error}"))?
        .next()
        .ok_or_else(|| format!("{authority} names no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|error| error.to_string())?;
    stream.set_read_timeout(Some(timeout)).map_err(|error| error.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|error| error.to_string())?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: cargo-xtask\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|error| error.to_string())?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        match stream.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(count) => read += count,
            Err(error) => return Err(error.to_string()),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    let line = String::from_utf8_lossy(&head[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {}", line.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_of_a_real_answer_is_read_and_a_closed_port_says_why() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 512];
            let read = stream.read(&mut request).unwrap();
            stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").unwrap();
            String::from_utf8_lossy(&request[..read]).into_owned()
        });
        assert_eq!(status(&format!("http://127.0.0.1:{port}/api/health/"), Duration::from_secs(5)), Ok(404));
        assert!(server.join().unwrap().starts_with("GET /api/health/ HTTP/1.0\r\n"));
        let closed = free_port().unwrap();
        assert!(status(&format!("http://127.0.0.1:{closed}/"), Duration::from_secs(1)).is_err());
        assert!(status("https://example.org/", Duration::from_secs(1)).unwrap_err().contains("not an http://"));
    }
}
