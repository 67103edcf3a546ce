//! A bare actix-web 4 hello-world: the baseline the benchmark script
//! (tests/bench/run.sh) compares mlstack's throughput against.
//!
//! Usage: bench-hello [PORT]   (listens on 127.0.0.1, default port 8089)

use actix_web::{App, HttpServer, web};

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8089);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(|| App::new().route("/", web::get().to(|| async { "Hello world!" })))
            .bind(("127.0.0.1", port))?
            .run()
            .await
    })
}
