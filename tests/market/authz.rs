//! The authorization matrix: every state-changing route, tried by each kind of
//! person on their own and on someone else's things. Only the intended
//! combinations succeed; the others get 401, 403 or 404 and change nothing in
//! the database.

use crate::common::shop::{Shop, png_with_metadata};
use crate::common::visitor::{Browser, Reply};

const WHO: [&str; 5] = [
    "anonymous",
    "buyer",
    "other buyer",
    "vendor",
    "other vendor",
];
/// Not tried in this row.
const SKIP: u16 = 0;

struct People {
    b: [Browser; 5],
}

impl People {
    /// Fresh form tokens: a page with forms for each (the sign-in page for the anonymous).
    fn refresh(&mut self, who: usize) {
        let page = if who == 0 { "/login" } else { "/account" };
        self.b[who].get(page).expect(200);
    }
}

/// Tries `send` as each person (refused ones first) and checks status and database.
fn row(
    shop: &Shop,
    people: &mut People,
    what: &str,
    expected: [u16; 5],
    send: impl Fn(&mut Browser) -> Reply,
) {
    let mut order: Vec<usize> = (0..5).filter(|&i| expected[i] != SKIP).collect();
    order.sort_by_key(|&i| expected[i] < 400);
    for who in order {
        people.refresh(who);
        let before = shop.fingerprint();
        let r = send(&mut people.b[who]);
        assert_eq!(
            r.status, expected[who],
            "{what} by the {}: {}\n{}",
            WHO[who], r.status, r.body
        );
        let after = shop.fingerprint();
        if expected[who] >= 400 {
            assert_eq!(
                before, after,
                "{what} by the {} was refused but changed the database",
                WHO[who]
            );
            assert!(
                r.body.contains("<h1"),
                "{what} by the {}: a readable page",
                WHO[who]
            );
        } else {
            assert_ne!(
                before, after,
                "{what} by the {} succeeded but changed nothing",
                WHO[who]
            );
        }
    }
}

fn listing_fields(title: &str) -> Vec<(&'static str, String)> {
    vec![
        ("title", title.to_owned()),
        ("category", "books".to_owned()),
        ("price", "0.4".to_owned()),
        ("stock", "9".to_owned()),
        ("description", "Changed by someone.".to_owned()),
        ("delivery_label_0", "Letter".to_owned()),
        ("delivery_price_0", "0".to_owned()),
    ]
}

fn post(b: &mut Browser, path: &str, fields: &[(&str, String)]) -> Reply {
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post_form_raw(path, &f)
}

#[test]
fn only_the_intended_people_change_things() {
    let shop = Shop::start();
    let mut people = People {
        b: [
            shop.browser(),
            shop.buyer("bea"),
            shop.buyer("bob"),
            shop.vendor("vic"),
            shop.vendor("vlad"),
        ],
    };
    let l = shop.listing(&mut people.b[3], "Vic's lamp", "1", "50");
    let l2 = shop.listing(&mut people.b[4], "Vlad's rug", "1", "50");
    people.b[3].get(&format!("/sell/{l}/edit"));
    people.b[3]
        .upload(
            &format!("/sell/{l}/images"),
            "a.png",
            "image/png",
            &png_with_metadata(60, 40),
        )
        .expect(200);
    let image = shop.i64(&format!(
        "SELECT id FROM listing_images WHERE listing_id = {l}"
    ));
    const OK: u16 = 303;

    // Listings: vendors create; only the owner edits, pauses, resumes, adds and removes images.
    row(
        &shop,
        &mut people,
        "create a listing",
        [401, 403, 403, OK, OK],
        |b| post(b, "/sell/new", &listing_fields("New thing")),
    );
    for (listing, owner) in [(l, 3), (l2, 4)] {
        let mut exp = [401, 403, 403, 404, 404];
        exp[owner] = OK;
        row(&shop, &mut people, "edit a listing", exp, |b| {
            post(
                b,
                &format!("/sell/{listing}/edit"),
                &listing_fields("Taken over"),
            )
        });
        row(&shop, &mut people, "pause a listing", exp, |b| {
            post(
                b,
                &format!("/sell/{listing}/state"),
                &[("action", "pause".to_owned())],
            )
        });
        row(&shop, &mut people, "resume a listing", exp, |b| {
            post(
                b,
                &format!("/sell/{listing}/state"),
                &[("action", "resume".to_owned())],
            )
        });
        row(&shop, &mut people, "add an image", exp, |b| {
            b.post_multipart_raw(
                &format!("/sell/{listing}/images"),
                &[],
                ("image", "x.png", "image/png", &png_with_metadata(30, 20)),
            )
        });
    }
    row(
        &shop,
        &mut people,
        "remove an image",
        [401, 403, 403, OK, 404],
        |b| post(b, &format!("/sell/images/{image}/delete"), &[]),
    );

    // Ordering: anyone signed in, except from their own listing.
    // Edits replace the delivery options: look the current one up each time.
    let option = || {
        shop.i64(&format!(
            "SELECT min(id) FROM delivery_options WHERE listing_id = {l}"
        ))
        .to_string()
    };
    let order_form = |b: &mut Browser| {
        post(
            b,
            &format!("/listings/{l}/order"),
            &[
                ("quantity", "1".to_owned()),
                ("delivery_option", option()),
                ("delivery_note", "Door 2".to_owned()),
            ],
        )
    };
    row(
        &shop,
        &mut people,
        "order",
        [401, OK, OK, 403, OK],
        order_form,
    );

    // Orders: buyer and vendor act as the transition table says; nobody else sees them.
    let by_buyer = |state: &str| {
        shop.text(&format!("SELECT public_id FROM orders o JOIN accounts a ON a.id = o.buyer_id WHERE a.username = 'bea' AND o.state = '{state}' LIMIT 1"))
    };
    let paid = by_buyer("created");
    shop.pay(&paid);
    let act = |order: String, action: &'static str| {
        move |b: &mut Browser| {
            post(
                b,
                &format!("/orders/{order}/action"),
                &[("action", action.to_owned())],
            )
        }
    };
    for (path, code) in [(format!("/orders/{paid}"), [303, 200, 404, 200, 404])] {
        for (who, expected) in code.iter().enumerate() {
            assert_eq!(
                people.b[who].get_raw(&path).status,
                *expected,
                "{path} for the {}",
                WHO[who]
            );
        }
    }
    row(
        &shop,
        &mut people,
        "finalize a paid order",
        [401, 409, 404, 403, 404],
        act(paid.clone(), "finalize"),
    );
    row(
        &shop,
        &mut people,
        "ship",
        [401, 403, 404, OK, 404],
        act(paid.clone(), "ship"),
    );
    row(
        &shop,
        &mut people,
        "finalize",
        [401, OK, 404, 403, 404],
        act(paid.clone(), "finalize"),
    );
    people.b[1].get(&format!("/listings/{l}"));
    order_form(&mut people.b[1]).expect(303);
    let open = by_buyer("created");
    row(
        &shop,
        &mut people,
        "buyer cancels",
        [401, OK, 404, SKIP, 404],
        act(open.clone(), "cancel"),
    );
    people.b[1].get(&format!("/listings/{l}"));
    order_form(&mut people.b[1]).expect(303);
    let open = by_buyer("created");
    row(
        &shop,
        &mut people,
        "vendor cancels",
        [401, SKIP, 404, OK, 404],
        act(open, "cancel"),
    );

    // The account's own settings: signed-in people only, vendors for the PGP key.
    let key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQENBF\n-----END PGP PUBLIC KEY BLOCK-----"
        .to_owned();
    row(
        &shop,
        &mut people,
        "set a PGP key",
        [401, 403, 403, 200, SKIP],
        |b| post(b, "/account/pgp", &[("pgp", key.clone())]),
    );
    row(
        &shop,
        &mut people,
        "apply as vendor",
        [401, 200, SKIP, 409, SKIP],
        |b| {
            post(
                b,
                "/account/vendor-application",
                &[("statement", "Me too".to_owned())],
            )
        },
    );
    for path in [
        "/account/password",
        "/account/2fa/enable",
        "/account/2fa/disable",
        "/account/sessions/end-all",
    ] {
        row(
            &shop,
            &mut people,
            path,
            [401, SKIP, SKIP, SKIP, SKIP],
            |b| post(b, path, &[("current", "x".to_owned())]),
        );
    }

    // Private pages answer 404 to people who must not know the thing exists.
    people.b[4].get(&format!("/sell/{l}/edit")).expect(404);
    people.b[1].get(&format!("/sell/{l}/edit")).expect(403);
    people.b[0].get_raw(&format!("/sell/{l}/edit")).expect(303);
}
