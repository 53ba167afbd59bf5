//! [`ClosedPort`]: an endpoint where nothing listens, for the tests of a dead server.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpSocket;

/// A port of 127.0.0.1 that refuses every connection for as long as this value lives: a
/// socket is bound to it (so no other process can take the port) but never listens, so
/// the kernel answers each connection with a reset ("Connection refused").
pub struct ClosedPort {
    _socket: TcpSocket,
    pub port: u16,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        let socket = TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        ClosedPort {
            _socket: socket,
            port,
        }
    }
}
