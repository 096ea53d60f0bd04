//! A door between the app and the bank: a TCP relay on 127.0.0.1 that passes the app's bytes
//! on only while it is open, so a test can hold a request "in flight" as long as it needs (a
//! slow mobile network) and then let it through to the real server; or that drops the
//! connection of every request to one path, as a server killed at that step would.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

pub struct Gate {
    /// The URL to give the app instead of the bank's.
    pub url: String,
    open: Arc<(Mutex<bool>, Condvar)>,
    dropped: Arc<Mutex<Option<String>>>,
}

impl Gate {
    /// A relay to the server at `bank_url` (`http://127.0.0.1:port`), open at first.
    pub fn to(bank_url: &str) -> Self {
        let bank = bank_url.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let open = Arc::new((Mutex::new(true), Condvar::new()));
        let dropped = Arc::new(Mutex::new(None));
        let (door, drop_path) = (Arc::clone(&open), Arc::clone(&dropped));
        thread::spawn(move || {
            for app in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(&bank) else { continue };
                relay(app, server, Arc::clone(&door), Arc::clone(&drop_path));
            }
        });
        Self { url, open, dropped }
    }

    /// Until [`Gate::pass_all`], a request to `path` never reaches the bank: its connection
    /// is cut, and the app sees the server gone.
    pub fn drop_requests_to(&self, path: &str) {
        *self.dropped.lock().unwrap() = Some(format!(" {path} HTTP/"));
    }

    pub fn pass_all(&self) {
        *self.dropped.lock().unwrap() = None;
    }

    /// From now on nothing the app sends reaches the bank until [`Gate::open`].
    pub fn close(&self) {
        *self.open.0.lock().unwrap() = false;
    }

    pub fn open(&self) {
        *self.open.0.lock().unwrap() = true;
        self.open.1.notify_all();
    }
}

fn relay(
    app: TcpStream,
    server: TcpStream,
    door: Arc<(Mutex<bool>, Condvar)>,
    dropped: Arc<Mutex<Option<String>>>,
) {
    let (mut app_in, mut server_out) = (app.try_clone().unwrap(), server.try_clone().unwrap());
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n @ 1..) = app_in.read(&mut buf) {
            let (lock, opened) = &*door;
            drop(opened.wait_while(lock.lock().unwrap(), |open| !*open).unwrap());
            let head = String::from_utf8_lossy(&buf[..n.min(512)]).into_owned();
            let first_line = head.lines().next().unwrap_or_default().to_owned();
            if dropped.lock().unwrap().as_ref().is_some_and(|p| first_line.contains(p.as_str())) {
                let _ = app_in.shutdown(Shutdown::Both);
                let _ = server_out.shutdown(Shutdown::Both);
                return;
            }
            if server_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (mut server_in, mut app_out) = (server, app);
    thread::spawn(move || {
        let _ = std::io::copy(&mut server_in, &mut app_out);
        let _ = app_out.shutdown(Shutdown::Write);
    });
}
