//! Words for the demo's listings: categories, titles and descriptions, combined
//! by a small deterministic generator so every run shows the same shop.

/// Demo categories: slug, name, nouns sold there.
pub const CATEGORIES: [(&str, &str, [&str; 8]); 6] = [
    (
        "books",
        "Books",
        [
            "atlas",
            "novel",
            "cookbook",
            "field guide",
            "sketchbook",
            "almanac",
            "anthology",
            "journal",
        ],
    ),
    (
        "kitchen",
        "Kitchen",
        [
            "teapot",
            "mug",
            "skillet",
            "bread knife",
            "cutting board",
            "spice tin",
            "kettle",
            "bowl",
        ],
    ),
    (
        "garden",
        "Garden",
        [
            "seed kit",
            "trowel",
            "planter",
            "watering can",
            "bonsai",
            "herb box",
            "pruner",
            "bird feeder",
        ],
    ),
    (
        "prints",
        "Art and prints",
        [
            "poster",
            "linocut",
            "map print",
            "postcard set",
            "etching",
            "photo print",
            "calendar",
            "woodcut",
        ],
    ),
    (
        "home",
        "Home",
        [
            "vase", "candle", "lamp", "clock", "cushion", "blanket", "basket", "mirror",
        ],
    ),
    (
        "gadgets",
        "Gadgets",
        [
            "radio",
            "torch",
            "charger",
            "headphones",
            "keyboard",
            "speaker",
            "calculator",
            "camera strap",
        ],
    ),
];

const ADJECTIVES: [&str; 16] = [
    "Handmade",
    "Vintage",
    "Compact",
    "Sturdy",
    "Hand-painted",
    "Minimal",
    "Rustic",
    "Classic",
    "Pocket",
    "Large",
    "Small-batch",
    "Recycled",
    "Travel",
    "Heirloom",
    "Solid",
    "Everyday",
];

const MATERIALS: [&str; 12] = [
    "oak", "linen", "brass", "clay", "walnut", "steel", "wool", "paper", "glass", "birch",
    "copper", "cotton",
];

const OPENERS: [&str; 6] = [
    "Made in a small workshop and checked by hand before it ships.",
    "A favourite of regular buyers: simple, useful and built to last.",
    "Packed carefully in plain, unmarked packaging.",
    "Each piece is slightly different; the photo shows a typical one.",
    "Restocked every few weeks in small numbers.",
    "Quiet design that fits in anywhere.",
];

const DETAILS: [&str; 8] = [
    "Ships within two days of payment",
    "Plain packaging, no branding",
    "Tested before dispatch",
    "Care instructions included",
    "Spare parts on request",
    "Gift wrap available on request",
    "Measurements in the second photo",
    "Questions welcome before ordering",
];

/// A small, fast, deterministic generator (xorshift64*).
pub struct Dice(u64);

impl Dice {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next number.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Title and Markdown description of listing number `n` in category slot `k`.
pub fn listing_text(dice: &mut Dice, k: usize) -> (String, String) {
    let noun = dice.pick(&CATEGORIES[k].2);
    let title = format!(
        "{} {} {}",
        dice.pick(&ADJECTIVES),
        dice.pick(&MATERIALS),
        noun
    );
    let mut details: Vec<&str> = Vec::new();
    while details.len() < 3 {
        let d = *dice.pick(&DETAILS);
        if !details.contains(&d) {
            details.push(d);
        }
    }
    let description = format!(
        "{} This {noun} is a good match for anyone who likes *{}* things.\n\n- {}\n- {}\n- {}\n",
        dice.pick(&OPENERS),
        dice.pick(&MATERIALS),
        details[0],
        details[1],
        details[2],
    );
    (title, description)
}
