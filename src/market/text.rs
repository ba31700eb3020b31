//! User text: length limits and the small, safe Markdown subset for descriptions.
//! Raw HTML, links and images are not rendered; everything else is escaped.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::{MarketError, MarketResult};

/// Trims and checks a text field's length in characters.
pub fn bounded(field: &str, value: &str, min: usize, max: usize) -> MarketResult<String> {
    let v = value.trim();
    let n = v.chars().count();
    if n < min {
        return Err(MarketError::Invalid(if min <= 1 {
            format!("{field} must not be empty.")
        } else {
            format!("{field} needs at least {min} characters.")
        }));
    }
    if n > max {
        return Err(MarketError::Invalid(format!(
            "{field} is too long: {n} characters, at most {max}."
        )));
    }
    Ok(v.to_owned())
}

/// Renders the Markdown subset (paragraphs, emphasis, lists, quotes, code,
/// headings, rules) to HTML. Links keep only their text, images only their alt text,
/// and raw HTML is shown as text: nothing a visitor writes can become markup.
pub fn render_markdown(source: &str) -> String {
    let events = Parser::new_ext(source, Options::empty()).filter_map(|ev| match ev {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
        Event::Start(Tag::Link { .. } | Tag::Image { .. }) => None,
        Event::End(TagEnd::Link | TagEnd::Image) => None,
        Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => None,
        Event::Start(Tag::Heading { level, .. }) => Some(Event::Start(Tag::Heading {
            // Page structure keeps h1/h2 for itself.
            level: level.max(pulldown_cmark::HeadingLevel::H3),
            id: None,
            classes: Vec::new(),
            attrs: Vec::new(),
        })),
        Event::End(TagEnd::Heading(level)) => Some(Event::End(TagEnd::Heading(
            level.max(pulldown_cmark::HeadingLevel::H3),
        ))),
        other => Some(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tags the subset may produce; anything else in the output is a leak.
    const ALLOWED: &[&str] = &[
        "p",
        "em",
        "strong",
        "ul",
        "ol",
        "li",
        "code",
        "pre",
        "blockquote",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "br",
        "del",
    ];

    fn tags(html: &str) -> Vec<String> {
        html.split('<')
            .skip(1)
            .map(|rest| {
                rest.trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn markup_from_users_never_survives() {
        for evil in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "![x](http://tracker.example/p.png)",
            "<a href=\"http://x\">x</a>",
            "<!-- comment --><style>body{}</style>",
            "<<script>script>",
        ] {
            let html = render_markdown(evil);
            for tag in tags(&html) {
                assert!(ALLOWED.contains(&tag.as_str()), "{evil} -> {html}");
            }
        }
    }

    #[test]
    fn the_subset_renders() {
        let html = render_markdown("# Title\n\n*soft* **bold**\n\n- one\n- two\n\n`code`");
        assert!(html.contains("<h3>Title</h3>"), "{html}");
        assert!(html.contains("<em>soft</em>") && html.contains("<strong>bold</strong>"));
        assert!(html.contains("<li>one</li>") && html.contains("<code>code</code>"));
    }

    #[test]
    fn lengths_are_checked() {
        assert!(bounded("Title", "  ab ", 3, 10).is_err());
        assert_eq!(bounded("Title", "  abc ", 3, 10).unwrap(), "abc");
        assert!(bounded("Title", &"x".repeat(11), 3, 10).is_err());
    }
}
