//! The shop in a real browser with JavaScript disabled: headless Chromium driven
//! over WebDriver (chromedriver on a loopback port). A vendor registers, applies,
//! is approved, lists a thing with a photo; a buyer searches, finds and orders it;
//! the order is paid (domain API, until the escrow engines land), shipped and
//! finalized. Screenshots of the key pages go to target/screenshots/.

mod common;

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::shop::{PASSWORD, Shop};
use common::{free_port, tool};
use fantoccini::{Client, ClientBuilder, Locator};

/// chromedriver in its own process group, stopped with everything it started.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let _ = tool("chromium", "chromium");
        let port = free_port();
        let child = tool("chromedriver", "chromium-driver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let driver = Self { child, port };
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Ready when it accepts connections (it keeps HTTP connections open, so a
        // read-to-end status probe would hang).
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        use rustix::process::{Pid, Signal, kill_process_group};
        let group = Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = kill_process_group(group, Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill_process_group(group, Signal::KILL);
        let _ = self.child.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn connect(port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1300",
            ],
            "prefs": { "profile.managed_default_content_settings.javascript": 2 },
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with Chromium")
}

/// A page in the browser: fill fields, press buttons, read and photograph it.
struct Page<'a> {
    c: &'a Client,
    base: String,
}

impl Page<'_> {
    async fn open(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self
            .c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Presses a button or link that leads to another page, and waits for that page
    /// (until the old document is gone and the new one has its main element).
    async fn press(&self, css: &str) {
        let old = self.c.find(Locator::Css("html")).await.unwrap();
        let e = self
            .c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        e.click().await.unwrap();
        for _ in 0..200 {
            if old.attr("lang").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.text().await;
    }

    /// The main text of the page (asked again while a navigation replaces it).
    async fn text(&self) -> String {
        for _ in 0..50 {
            if let Ok(main) = self.c.find(Locator::Css("main")).await
                && let Ok(text) = main.text().await
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page has no readable main element");
    }

    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_owned()
    }

    async fn shoot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, name: &str) {
        self.open("/login?next=/account").await;
        self.fill("#username", name).await;
        self.fill("#password", PASSWORD).await;
        self.press("form[action='/login'] button[type=submit]")
            .await;
        assert!(
            self.text().await.contains("Your account"),
            "{name} is signed in"
        );
    }

    async fn sign_out(&self) {
        self.press("form[action='/logout'] button").await;
        assert!(self.c.find(Locator::Css("a[href='/login']")).await.is_ok());
    }

    async fn register(&self, name: &str) {
        self.open("/register").await;
        self.fill("#username", name).await;
        self.fill("#password", PASSWORD).await;
        self.fill("#password2", PASSWORD).await;
        self.press("form[action='/register'] button[type=submit]")
            .await;
        assert!(self.text().await.contains("Your recovery codes"));
        self.press("main a.button").await;
    }
}

/// Runs one browser step, bounded in time.
fn within<T>(rt: &tokio::runtime::Runtime, step: impl std::future::Future<Output = T>) -> T {
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), step)
            .await
            .expect("the browser step took over 2 minutes")
    })
}

#[test]
fn a_vendor_and_a_buyer_use_the_shop_without_javascript() {
    let shop = Shop::start();
    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let c = rt.block_on(connect(driver.port));
    let p = Page {
        c: &c,
        base: format!("http://{}", shop.souk.shop),
    };

    // JavaScript is really off: a script that would retitle the page does not run.
    within(&rt, async {
        c.goto("data:text/html,<title>before</title><script>document.title='after'</script>")
            .await
            .unwrap();
        assert_eq!(c.title().await.unwrap(), "before", "JavaScript ran");
    });

    // A vendor registers and applies.
    within(&rt, async {
        p.register("lena").await;
        assert_eq!(p.path().await, "/account");
        p.fill("#statement", "Hand-bound notebooks").await;
        p.press("form[action='/account/vendor-application'] button")
            .await;
        assert!(p.text().await.contains("Application sent"));
    });
    // An admin approves the application on the admin page, in this browser.
    drop(shop.admin("ada"));
    within(&rt, async {
        p.sign_out().await;
        p.sign_in("ada").await;
        p.open("/admin").await;
        assert!(p.text().await.contains("Hand-bound notebooks"));
        p.shoot("admin-applications").await;
        p.press("form[action^='/admin/applications/'] button[value='approve']")
            .await;
        p.sign_out().await;
        p.sign_in("lena").await;
    });
    assert_eq!(
        shop.i64("SELECT count(*) FROM account_roles r JOIN accounts a ON a.id = r.account_id WHERE a.username = 'lena' AND r.role = 'vendor'"),
        1,
        "lena is a vendor"
    );

    // The vendor lists a notebook with a photo.
    let photo = tempfile::NamedTempFile::with_suffix(".png").unwrap();
    let mut png = Vec::new();
    souk::demo::pictures::draw(3, 0)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    std::fs::write(photo.path(), png).unwrap();
    within(&rt, async {
        p.open("/sell/new").await;
        // Bottom to top, so the page is scrolled to its top for the screenshot.
        p.fill("#d0", "Letter").await;
        p.fill("#dp0", "0.01").await;
        p.fill(
            "#description",
            "Eighty pages of **cotton paper**, sewn by hand.\n\n- A5\n- dot grid",
        )
        .await;
        p.fill("#stock", "4").await;
        p.fill("#price", "0.15").await;
        p.fill("#title", "Hand-bound linen notebook").await;
        p.shoot("vendor-listing-form").await;
        p.press("form[action='/sell/new'] button[type=submit]")
            .await;
        assert!(p.path().await.ends_with("/edit"), "{}", p.path().await);
        p.c.find(Locator::Id("image"))
            .await
            .unwrap()
            .send_keys(&photo.path().display().to_string())
            .await
            .unwrap();
        p.press("form[enctype='multipart/form-data'] button[type=submit]")
            .await;
        assert!(
            p.c.find(Locator::Css("ul.thumbs img")).await.is_ok(),
            "the photo is on the listing"
        );
        p.sign_out().await;
    });
    assert_eq!(shop.i64("SELECT count(*) FROM listing_images"), 1);

    // A buyer registers, searches, finds it and orders it.
    let order = within(&rt, async {
        p.register("mika").await;
        p.open("/").await;
        p.shoot("home").await;
        p.fill("#site-q", "linen notebook").await;
        p.press("form.search button").await;
        assert!(p.text().await.contains("Hand-bound linen notebook"));
        p.shoot("search-results").await;
        p.press("ul.cards a[href^='/listings/']").await;
        p.shoot("listing").await;
        p.fill("#delivery_note", "Mika, 12 Harbour Lane").await;
        p.press("form[action$='/order'] button[type=submit]").await;
        let path = p.path().await;
        assert!(path.starts_with("/orders/"), "{path}: {}", p.text().await);
        assert!(p.text().await.contains("Placed"));
        path.trim_start_matches("/orders/").to_owned()
    });

    // Paid through the domain API (no "paid" button exists in the product).
    shop.pay(&order);
    within(&rt, async {
        p.open(&format!("/orders/{order}")).await;
        assert!(p.text().await.contains("Paid"));
        p.shoot("order").await;
        p.sign_out().await;
        p.sign_in("lena").await;
        p.open(&format!("/orders/{order}")).await;
        assert!(
            p.text().await.contains("Mika, 12 Harbour Lane"),
            "the vendor sees the note"
        );
        p.press("form[action$='/action'] button:not(.danger)").await;
        assert!(p.text().await.contains("Shipped"));
        p.sign_out().await;
        p.sign_in("mika").await;
        p.open(&format!("/orders/{order}")).await;
        p.press("form[action$='/action'] button:not(.danger)").await;
        assert!(p.text().await.contains("Completed"));
        // The buyer reviews the completed order.
        p.press("input[name='rating'][value='5']").await;
        p.fill("#review-body", "Beautiful paper, well packed.")
            .await;
        p.press("form[action$='/review'] button[type=submit]").await;
        assert!(p.text().await.contains("Beautiful paper, well packed."));
        p.shoot("order-reviewed").await;
    });
    assert_eq!(
        shop.i64("SELECT rating_count FROM listings WHERE title = 'Hand-bound linen notebook'"),
        1,
        "the review counts on the listing"
    );
    assert_eq!(shop.order_state(&order), "completed");

    // Phone width: the same pages still read well.
    within(&rt, async {
        c.set_window_size(390, 844).await.unwrap();
        p.open("/").await;
        p.shoot("phone-home").await;
        p.open(&format!("/orders/{order}")).await;
        p.shoot("phone-order").await;
    });
    rt.block_on(c.close()).unwrap();
}
