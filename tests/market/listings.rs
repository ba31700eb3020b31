//! Vendors' listings: create, edit, pause, delete, and images.

use crate::common::shop::{Shop, png_with_metadata};

#[test]
fn vendor_creates_edits_pauses_and_deletes_a_listing() {
    let shop = Shop::start();
    let mut v = shop.vendor("hana");
    // A form with mistakes comes back with the message and what was typed.
    v.get("/sell/new");
    let r = v.post_form(
        "/sell/new",
        &[
            ("title", "Field guide to mosses"),
            ("category", "books"),
            ("price", "0.5.1"),
            ("stock", "3"),
            ("description", "Illustrated, *first* edition."),
            ("delivery_label_0", "Letter"),
            ("delivery_price_0", "0.01"),
        ],
    );
    r.expect(422)
        .expect_text("Price:")
        .expect_text("value=\"Field guide to mosses\"");
    r.expect_text("Illustrated, *first* edition.")
        .expect_text("value=\"Letter\"");
    assert_eq!(shop.i64("SELECT count(*) FROM listings"), 0);

    let id = shop.listing_in(
        &mut v,
        "books",
        "Field guide to mosses",
        "0.25",
        "3",
        "Illustrated, *first* edition.",
    );
    let public = shop.browser().get(&format!("/listings/{id}"));
    public
        .expect(200)
        .expect_text("Field guide to mosses")
        .expect_text("0.25 XMR");
    public
        .expect_text("<em>first</em>")
        .expect_text("Sign in</a> or");
    assert_eq!(
        shop.i64(&format!(
            "SELECT price_piconero FROM listings WHERE id = {id}"
        )),
        250_000_000_000
    );

    v.get(&format!("/sell/{id}/edit"))
        .expect(200)
        .expect_text("value=\"0.25\"");
    let r = v.post_form(
        &format!("/sell/{id}/edit"),
        &[
            ("title", "Field guide to mosses, 2nd ed."),
            ("category", "tools"),
            ("price", "0.000000000001"),
            ("stock", "7"),
            ("description", "Revised."),
            ("delivery_label_0", "Letter"),
            ("delivery_price_0", "0"),
            ("delivery_label_1", "Parcel, tracked"),
            ("delivery_price_1", "0.05"),
        ],
    );
    r.expect(200)
        .expect_text("2nd ed.")
        .expect_text("0.000000000001 XMR");
    v.get(&format!("/sell/{id}/edit"))
        .expect_text("value=\"Parcel, tracked\"")
        .expect_text("value=\"0.05\"");
    assert_eq!(
        shop.i64(&format!("SELECT stock FROM listings WHERE id = {id}")),
        7
    );
    assert_eq!(
        shop.i64(&format!(
            "SELECT count(*) FROM delivery_options WHERE listing_id = {id}"
        )),
        2
    );

    // Paused: gone from the catalogue and its page for others; the vendor still sees it.
    v.get("/sell");
    v.post_form(&format!("/sell/{id}/state"), &[("action", "pause")])
        .expect(200);
    assert_eq!(
        shop.text(&format!("SELECT state FROM listings WHERE id = {id}")),
        "paused"
    );
    let mut visitor = shop.browser();
    visitor.get(&format!("/listings/{id}")).expect(404);
    assert!(!visitor.get("/").body.contains("2nd ed."));
    v.get(&format!("/listings/{id}"))
        .expect(200)
        .expect_text("This listing is paused");
    v.get("/sell");
    v.post_form(&format!("/sell/{id}/state"), &[("action", "resume")])
        .expect(200);
    visitor.get(&format!("/listings/{id}")).expect(200);
    assert!(visitor.get("/").body.contains("2nd ed."));

    // Deleted: gone for everyone, the vendor included.
    v.get(&format!("/sell/{id}/edit"));
    v.post_form(&format!("/sell/{id}/state"), &[("action", "delete")])
        .expect(200);
    v.get(&format!("/listings/{id}")).expect(404);
    v.get(&format!("/sell/{id}/edit")).expect(404);
    assert!(!v.get("/sell").body.contains("2nd ed."));
    v.get("/sell");
    v.post_form(&format!("/sell/{id}/state"), &[("action", "resume")])
        .expect(404);
    assert_eq!(
        shop.text(&format!("SELECT state FROM listings WHERE id = {id}")),
        "deleted"
    );
}

#[test]
fn images_are_reencoded_refused_when_fake_and_limited() {
    let shop = Shop::start_with("[market]\nupload_limit_bytes = 1048576\n");
    let mut v = shop.vendor("ines");
    let id = shop.listing(&mut v, "Pressed flowers", "1", "2");
    let edit = format!("/sell/{id}/edit");
    let upload = format!("/sell/{id}/images");
    v.get(&edit);

    // A real PNG with GPS text and EXIF: stored as a JPEG without either.
    let png = png_with_metadata(320, 200);
    assert!(png.windows(12).any(|w| w == b"SECRETCAMERA"));
    let r = v.upload(&upload, "flowers.png", "image/png", &png);
    r.expect(200).expect_text("/images/");
    let image_id = shop.i64(&format!(
        "SELECT id FROM listing_images WHERE listing_id = {id}"
    ));
    let full = shop.browser().get(&format!("/images/{image_id}/full"));
    full.expect(200);
    assert_eq!(full.header("content-type"), Some("image/jpeg"));
    assert_eq!(&full.bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
    for secret in [&b"Exif"[..], b"SECRETCAMERA", b"GPS", b"52.52"] {
        assert!(
            !full.bytes.windows(secret.len()).any(|w| w == secret),
            "{:?} left in the image",
            String::from_utf8_lossy(secret)
        );
    }
    let decoded = image::load_from_memory(&full.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 200));
    let thumb = shop.browser().get(&format!("/images/{image_id}/thumb"));
    thumb.expect(200);
    assert!(thumb.header("cache-control").unwrap().contains("max-age"));
    let etag = thumb.header("etag").unwrap().to_owned();
    let again = shop
        .browser()
        .request("GET", &format!("/images/{image_id}/thumb"), None, b"");
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    // Not an image: refused with a clear message, nothing stored.
    v.get(&edit);
    let r = v.upload(&upload, "evil.png", "image/png", b"<svg onload=alert(1)>");
    r.expect(422).expect_text("not a JPEG, PNG or WebP image");
    assert!(!r.body.contains("<svg onload"), "the upload is not echoed");
    v.get(&edit);
    v.upload(&upload, "half.png", "image/png", &png[..png.len() / 2])
        .expect(422);
    // Over the upload limit: 413 with a page, nothing stored.
    v.get(&edit);
    let big = vec![0x89u8; 1024 * 1024 + 10];
    let r = v.post_multipart_raw(&upload, &[], ("image", "big.png", "image/png", &big));
    r.expect(413);
    assert_eq!(
        shop.i64(&format!(
            "SELECT count(*) FROM listing_images WHERE listing_id = {id}"
        )),
        1
    );

    // At most six images.
    for _ in 0..5 {
        v.get(&edit);
        v.upload(&upload, "more.png", "image/png", &png_with_metadata(40, 30))
            .expect(200);
    }
    v.get(&edit);
    v.upload(
        &upload,
        "seventh.png",
        "image/png",
        &png_with_metadata(40, 30),
    )
    .expect(422)
    .expect_text("at most 6 images");
    assert_eq!(
        shop.i64(&format!(
            "SELECT count(*) FROM listing_images WHERE listing_id = {id}"
        )),
        6
    );

    // Removing one frees a place; images of a paused listing are private.
    let first = shop.i64(&format!(
        "SELECT min(id) FROM listing_images WHERE listing_id = {id}"
    ));
    v.get(&edit);
    v.post_form(&format!("/sell/images/{first}/delete"), &[])
        .expect(200);
    assert_eq!(
        shop.i64(&format!(
            "SELECT count(*) FROM listing_images WHERE listing_id = {id}"
        )),
        5
    );
    shop.browser()
        .get(&format!("/images/{first}/full"))
        .expect(404);
    let second = shop.i64(&format!(
        "SELECT min(id) FROM listing_images WHERE listing_id = {id}"
    ));
    v.get("/sell");
    v.post_form(&format!("/sell/{id}/state"), &[("action", "pause")])
        .expect(200);
    shop.browser()
        .get(&format!("/images/{second}/thumb"))
        .expect(404);
    v.get(&format!("/images/{second}/thumb")).expect(200);
}
