//! The release binary is statically linked and runs from any directory with
//! nothing beside it. Needs `make static` first, so it is ignored by default;
//! tests/run-all.sh builds it and runs this.

use std::path::PathBuf;
use std::process::Command;

fn static_bin() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/souk");
    assert!(
        p.is_file(),
        "{} is missing: run `make static` first",
        p.display()
    );
    p
}

#[test]
#[ignore = "needs `make static`: run by tests/run-all.sh"]
fn release_binary_is_static_and_self_contained() {
    let bin = static_bin();
    let file = Command::new("file")
        .arg(&bin)
        .output()
        .expect("file(1): apt-get install file");
    let file = String::from_utf8_lossy(&file.stdout);
    assert!(
        file.contains("static-pie linked") || file.contains("statically linked"),
        "not static: {file}"
    );
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    let ldd_text = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    assert!(
        ldd_text.contains("not a dynamic executable") || ldd_text.contains("statically linked"),
        "ldd: {ldd_text}"
    );

    // Copied alone into an empty directory, it still serves its embedded assets
    // and applies its embedded migrations.
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join("souk");
    std::fs::copy(&bin, &lone).unwrap();
    let out = Command::new(&lone)
        .current_dir(dir.path())
        .env_clear()
        .arg("default-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("[shop]"));
    let version = Command::new(&lone).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(version.starts_with("souk "), "{version}");
    assert!(
        !version.contains("commit unknown"),
        "built from git, the commit is known: {version}"
    );

    let shop = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = Command::new(&lone)
        .current_dir(dir.path())
        .env_clear()
        .env("SOUK_SHOP__LISTEN", shop.to_string())
        .env("SOUK_METRICS__LISTEN", metrics.to_string())
        .arg("serve")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let css = (0..200).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        fetch(shop, "/static/souk.css")
            .ok()
            .filter(|r| r.starts_with("HTTP/1.1 200"))
    });
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    let css = css.expect("the static binary served its embedded stylesheet");
    assert!(css.contains("text/css"));
    assert!(status.success());
    assert!(dir.path().join("souk-data/souk.db").is_file());
}

fn fetch(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
