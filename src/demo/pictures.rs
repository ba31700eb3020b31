//! Product pictures for the demo, drawn with the `image` crate: a soft two-tone
//! background, a shadow on the floor and one simple object whose shape depends on
//! the category, in a palette picked per listing. Simple, calm, never noise.

use image::{DynamicImage, Rgb, RgbImage};

/// Width and height of a demo picture (4:3, like the catalogue's cards).
pub const SIZE: (u32, u32) = (640, 480);

/// Palettes: background top, background bottom, object, highlight.
const PALETTES: [[[u8; 3]; 4]; 8] = [
    [
        [244, 236, 222],
        [222, 205, 180],
        [176, 92, 52],
        [236, 170, 120],
    ],
    [
        [226, 238, 240],
        [186, 210, 216],
        [38, 92, 112],
        [120, 180, 196],
    ],
    [
        [240, 234, 244],
        [210, 196, 222],
        [108, 70, 140],
        [190, 160, 214],
    ],
    [
        [236, 242, 228],
        [198, 216, 182],
        [74, 112, 58],
        [160, 196, 128],
    ],
    [
        [250, 238, 230],
        [236, 206, 196],
        [190, 74, 82],
        [240, 150, 150],
    ],
    [
        [238, 238, 236],
        [206, 204, 198],
        [60, 64, 72],
        [150, 156, 168],
    ],
    [
        [250, 244, 224],
        [232, 214, 160],
        [196, 140, 24],
        [244, 206, 110],
    ],
    [
        [230, 236, 246],
        [194, 206, 230],
        [56, 78, 150],
        [140, 164, 222],
    ],
];

/// Shapes, one per category slot.
#[derive(Clone, Copy)]
enum Shape {
    /// A book standing: a tall rounded rectangle with a spine line.
    Book,
    /// A mug or pot: a wide rounded rectangle with a handle ring.
    Mug,
    /// A plant or tree: a disc on a short stem.
    Plant,
    /// A framed print: a square with an inner square.
    Frame,
    /// A bottle or vase: a capsule with a neck.
    Vase,
    /// A gadget: a flat rounded slab with a round button.
    Gadget,
}

const SHAPES: [Shape; 6] = [
    Shape::Book,
    Shape::Mug,
    Shape::Plant,
    Shape::Frame,
    Shape::Vase,
    Shape::Gadget,
];

fn mix(a: [u8; 3], b: [u8; 3], t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| f32::from(a[i]) * (1.0 - t) + f32::from(b[i]) * t)
}

/// Coverage of a signed distance (negative inside), antialiased over one pixel.
fn cover(d: f32) -> f32 {
    (0.5 - d).clamp(0.0, 1.0)
}

/// Signed distance to a rounded rectangle centred at (cx, cy).
fn rounded_rect(x: f32, y: f32, cx: f32, cy: f32, hw: f32, hh: f32, r: f32) -> f32 {
    let qx = (x - cx).abs() - (hw - r);
    let qy = (y - cy).abs() - (hh - r);
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

fn circle(x: f32, y: f32, cx: f32, cy: f32, r: f32) -> f32 {
    ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r
}

/// (object, highlight) coverage of the shape at a pixel; `s` scales, `j` jitters.
fn shape_at(shape: Shape, x: f32, y: f32, s: f32, j: f32) -> (f32, f32) {
    let (cx, cy) = (320.0 + j * 40.0, 250.0);
    match shape {
        Shape::Book => {
            let body = rounded_rect(x, y, cx, cy, 80.0 * s, 130.0 * s, 10.0);
            let spine = rounded_rect(x, y, cx - 62.0 * s, cy, 7.0 * s, 122.0 * s, 4.0);
            let label = rounded_rect(x, y, cx + 8.0 * s, cy - 40.0 * s, 45.0 * s, 18.0 * s, 6.0);
            (cover(body), cover(spine).max(cover(label)))
        }
        Shape::Mug => {
            let body = rounded_rect(x, y, cx, cy + 10.0, 95.0 * s, 100.0 * s, 28.0);
            let ring = circle(x, y, cx + 110.0 * s, cy + 5.0, 48.0 * s).abs() - 14.0 * s;
            let rim = rounded_rect(x, y, cx, cy - 88.0 * s, 88.0 * s, 9.0 * s, 8.0);
            (cover(body).max(cover(ring)), cover(rim))
        }
        Shape::Plant => {
            let crown = circle(x, y, cx, cy - 50.0 * s, 105.0 * s);
            let stem = rounded_rect(x, y, cx, cy + 90.0 * s, 14.0 * s, 70.0 * s, 6.0);
            let pot = rounded_rect(x, y, cx, cy + 140.0 * s, 60.0 * s, 40.0 * s, 12.0);
            let shine = circle(x, y, cx - 40.0 * s, cy - 90.0 * s, 34.0 * s);
            (
                cover(crown).max(cover(stem)).max(cover(pot)),
                cover(shine) * 0.8,
            )
        }
        Shape::Frame => {
            let outer = rounded_rect(x, y, cx, cy - 10.0, 130.0 * s, 130.0 * s, 6.0);
            let inner = rounded_rect(x, y, cx, cy - 10.0, 100.0 * s, 100.0 * s, 2.0);
            let sun = circle(x, y, cx + 35.0 * s, cy - 45.0 * s, 30.0 * s);
            let hill = circle(x, y, cx - 30.0 * s, cy + 150.0 * s, 150.0 * s).max(-inner);
            (
                cover(outer),
                cover(inner) * 0.25 + cover(sun).max(cover(hill)) * 0.75,
            )
        }
        Shape::Vase => {
            let body = circle(x, y, cx, cy + 40.0 * s, 105.0 * s);
            let neck = rounded_rect(x, y, cx, cy - 80.0 * s, 34.0 * s, 70.0 * s, 14.0);
            let shine = rounded_rect(x, y, cx - 50.0 * s, cy + 20.0 * s, 12.0 * s, 50.0 * s, 12.0);
            (cover(body).max(cover(neck)), cover(shine) * 0.7)
        }
        Shape::Gadget => {
            let slab = rounded_rect(x, y, cx, cy, 150.0 * s, 95.0 * s, 26.0);
            let screen = rounded_rect(x, y, cx - 30.0 * s, cy, 90.0 * s, 70.0 * s, 10.0);
            let button = circle(x, y, cx + 105.0 * s, cy, 26.0 * s);
            (cover(slab), cover(screen) * 0.6 + cover(button))
        }
    }
}

/// Draws the picture for listing number `n` of category slot `category`.
pub fn draw(n: u64, category: usize) -> DynamicImage {
    let palette = PALETTES[(n as usize * 7 + category * 3) % PALETTES.len()];
    let shape = SHAPES[category % SHAPES.len()];
    let s = 0.85 + ((n * 37) % 30) as f32 / 100.0;
    let j = (((n * 13) % 9) as f32 - 4.0) / 4.0;
    let (w, h) = SIZE;
    let floor_y = 250.0 + 150.0 * s;
    let img = RgbImage::from_fn(w, h, |px, py| {
        let (x, y) = (px as f32 + 0.5, py as f32 + 0.5);
        // Background: top colour to bottom colour, with a soft floor line.
        let t = y / h as f32;
        let mut c = mix(palette[0], palette[1], t * t);
        if y > floor_y {
            c = c.map(|v| v * 0.94);
        }
        // The shadow: a flattened disc under the object.
        let dx = (x - 320.0 - j * 40.0) / (170.0 * s);
        let dy = (y - floor_y) / (26.0 * s);
        let shadow = (1.0 - (dx * dx + dy * dy)).clamp(0.0, 1.0) * 0.25;
        c = c.map(|v| v * (1.0 - shadow));
        let (body, light) = shape_at(shape, x, y, s, j);
        let obj = palette[2].map(f32::from);
        let shade = 1.0 - 0.18 * ((x - 200.0) / 400.0).clamp(0.0, 1.0);
        for i in 0..3 {
            c[i] = c[i] * (1.0 - body) + obj[i] * shade * body;
            c[i] = c[i] * (1.0 - light * body) + f32::from(palette[3][i]) * light * body;
        }
        Rgb(c.map(|v| v.round().clamp(0.0, 255.0) as u8))
    });
    DynamicImage::ImageRgb8(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_calm_and_distinct() {
        let a = draw(1, 0).to_rgb8();
        let b = draw(2, 3).to_rgb8();
        assert_eq!(a.dimensions(), SIZE);
        assert_ne!(
            a.as_raw(),
            b.as_raw(),
            "different listings, different pictures"
        );
        // Not noise: neighbouring pixels are nearly always alike.
        let raw = a.as_raw();
        let jumps = raw
            .chunks(3)
            .zip(raw.chunks(3).skip(1))
            .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 40))
            .count();
        assert!(jumps < raw.len() / 3 / 50, "{jumps} sharp jumps");
    }
}
