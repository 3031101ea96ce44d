//! How the emulator names its own address to clients.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The address to show for a bound address: an unspecified IP (`0.0.0.0`, `::`) is
/// reachable on loopback.
pub(crate) fn loopback_visible(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}
