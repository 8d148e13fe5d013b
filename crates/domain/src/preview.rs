//! The rules of the platform previews (the editor and the post page show a post as its
//! platform will): where LinkedIn folds a long post behind "…see more", how Bluesky counts
//! its 300-grapheme limit and where the overflow starts, and which link becomes a link card.
//!
//! The page script (`crates/server/src/web/assets/steward.js`) applies the same rules as the
//! person types, written the same way step by step (no regular expressions, no
//! `Intl.Segmenter`), so the live preview and the one the server renders from the saved text
//! agree; a browser test compares them.

/// LinkedIn's feed shows about 210 characters or 3 lines of a post, then "…see more".
pub const LINKEDIN_FOLD_CHARS: usize = 210;
/// The lines LinkedIn's feed shows before "…see more".
pub const LINKEDIN_FOLD_LINES: usize = 3;
/// A Bluesky post is at most 300 graphemes (`app.bsky.feed.post`).
pub const BLUESKY_MAX_GRAPHEMES: usize = 300;

/// The text a platform without a title field receives: the title, a blank line, the text (as
/// the LinkedIn, Mastodon and Bluesky adapters send it).
#[must_use]
pub fn published_text(title: Option<&str>, text: &str) -> String {
    match title {
        Some(t) if !t.trim().is_empty() => format!("{t}\n\n{text}"),
        _ => text.to_string(),
    }
}

/// The content warning a Mastodon status is folded behind, as Mastodon shows it: trimmed, and
/// none when blank (a blank warning folds nothing, and Steward stores none).
#[must_use]
pub fn content_warning(warning: Option<&str>) -> Option<&str> {
    warning.map(str::trim).filter(|w| !w.is_empty())
}

/// The blanks trimmed at a fold (the script trims the same four).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\n' | '\t' | '\r')
}

/// What LinkedIn's feed shows of a post before "…see more".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold<'a> {
    /// The part shown, without the blanks at its end when folded.
    pub shown: &'a str,
    /// Whether more follows (the feed then shows "…see more").
    pub folded: bool,
}

/// Where LinkedIn folds a post: after [`LINKEDIN_FOLD_CHARS`] characters (Unicode scalar
/// values, the count of the editor's counter) or before the line break that would start line
/// [`LINKEDIN_FOLD_LINES`] + 1, whichever comes first. A fold is shown only when something
/// other than blanks follows it.
#[must_use]
pub fn linkedin_fold(text: &str) -> Fold<'_> {
    let mut breaks = 0;
    let mut cut = text.len();
    for (chars, (i, c)) in text.char_indices().enumerate() {
        if c == '\n' {
            breaks += 1;
            if breaks == LINKEDIN_FOLD_LINES {
                cut = i;
                break;
            }
        }
        if chars == LINKEDIN_FOLD_CHARS {
            cut = i;
            break;
        }
    }
    let folded = text[cut..].chars().any(|c| !is_blank(c));
    let shown = if folded { text[..cut].trim_end_matches(is_blank) } else { text };
    Fold { shown, folded }
}

/// Whether a character continues the grapheme before it rather than starting one: combining
/// marks, variation selectors, emoji modifiers, tag characters, ZWNJ.
fn extends(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A | 0x064B..=0x065F
        | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x200C | 0x20D0..=0x20FF | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0xE0100..=0xE01EF)
}

/// The byte offsets where graphemes start, by a compact approximation of Unicode's
/// segmentation: combining marks, variation selectors, emoji modifiers, tag characters and
/// characters joined by ZWJ do not start a new grapheme, and regional-indicator pairs (flags)
/// count once. Exact for Latin, CJK and most emoji sequences; it may over-count some scripts
/// (Indic conjuncts, Hangul jamo), which errs on the side of warning early. The Bluesky
/// connector refuses a post by the same count.
fn grapheme_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut after_zwj = false;
    let mut open_flag = false;
    text.char_indices().filter_map(move |(i, c)| {
        if c == '\u{200D}' {
            after_zwj = true;
            return None;
        }
        let is_flag_half = ('\u{1F1E6}'..='\u{1F1FF}').contains(&c);
        if extends(c) || after_zwj || (is_flag_half && open_flag) {
            after_zwj = false;
            open_flag = false;
            return None;
        }
        open_flag = is_flag_half;
        Some(i)
    })
}

/// A text's length in graphemes (see [`grapheme_starts`] for the rule).
#[must_use]
pub fn grapheme_len(text: &str) -> usize {
    grapheme_starts(text).count()
}

/// The text split after `max` graphemes: what fits, and the overflow (empty when it fits).
#[must_use]
pub fn split_graphemes(text: &str, max: usize) -> (&str, &str) {
    match grapheme_starts(text).nth(max) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    }
}

/// Characters that end a link in the text (besides its end).
fn ends_link(c: char) -> bool {
    matches!(c, ' ' | '\n' | '\t' | '\r' | '<' | '>' | '"')
}

/// Characters taken off a link's end: the sentence's punctuation, not the address's.
fn trailing(c: char) -> bool {
    matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | ')' | ']' | '}')
}

/// The first web address in a text (`http://` or `https://` and a host, not preceded by a
/// letter or digit), without the punctuation that ends its sentence: the link Bluesky's apps
/// show as a card.
#[must_use]
pub fn first_link(text: &str) -> Option<&str> {
    let mut from = 0;
    while from < text.len() {
        let rest = &text[from..];
        let at = match (rest.find("http://"), rest.find("https://")) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return None,
        };
        let start = from + at;
        let glued = text[..start].chars().next_back().is_some_and(char::is_alphanumeric);
        let end = text[start..].find(ends_link).map_or(text.len(), |n| start + n);
        let link = text[start..end].trim_end_matches(trailing);
        if !glued && !link_host(link).is_empty() {
            return Some(link);
        }
        from = start + "http://".len();
    }
    None
}

/// The host a link names, lower case (what a link card shows as its source).
#[must_use]
pub fn link_host(link: &str) -> String {
    let rest = link.strip_prefix("https://").or_else(|| link.strip_prefix("http://")).unwrap_or_default();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    host.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_leads_the_text_after_a_blank_line() {
        assert_eq!(published_text(Some("Sale"), "Half price"), "Sale\n\nHalf price");
        assert_eq!(published_text(Some("  "), "Half price"), "Half price");
        assert_eq!(published_text(None, "Half price"), "Half price");
    }

    #[test]
    fn a_blank_content_warning_folds_nothing() {
        assert_eq!(content_warning(Some("  Spoilers: the finale \n")), Some("Spoilers: the finale"));
        assert_eq!(content_warning(Some(" \t ")), None);
        assert_eq!(content_warning(None), None);
    }

    #[test]
    fn linkedin_folds_after_210_characters() {
        let short = "a".repeat(210);
        assert_eq!(linkedin_fold(&short), Fold { shown: &short, folded: false });
        let long = format!("{}b", "a".repeat(210));
        assert_eq!(linkedin_fold(&long), Fold { shown: &long[..210], folded: true });
        // Characters, not bytes.
        let accents = "é".repeat(211);
        assert_eq!(linkedin_fold(&accents).shown.chars().count(), 210);
        // Blanks after the cut do not fold, and are trimmed before "see more" when it does.
        let spaced = format!("{}   \n ", "a".repeat(210));
        assert!(!linkedin_fold(&spaced).folded);
        let word = format!("{} more", "a".repeat(209));
        assert_eq!(linkedin_fold(&word), Fold { shown: &word[..209], folded: true });
    }

    #[test]
    fn linkedin_folds_before_the_fourth_line() {
        assert_eq!(linkedin_fold("one\ntwo\nthree"), Fold { shown: "one\ntwo\nthree", folded: false });
        assert_eq!(linkedin_fold("one\ntwo\nthree\nfour"), Fold { shown: "one\ntwo\nthree", folded: true });
        assert_eq!(linkedin_fold("one\n\n\nfour"), Fold { shown: "one", folded: true });
        assert_eq!(linkedin_fold("one\ntwo\nthree\n\n"), Fold { shown: "one\ntwo\nthree\n\n", folded: false });
    }

    #[test]
    fn graphemes_count_what_a_person_sees_as_one_character() {
        assert_eq!(grapheme_len("hello"), 5);
        assert_eq!(grapheme_len("e\u{301}"), 1, "e and a combining accent");
        assert_eq!(grapheme_len("👍🏽"), 1, "a thumb with a skin tone");
        assert_eq!(grapheme_len("👩‍👩‍👧"), 1, "a family joined by ZWJ");
        assert_eq!(grapheme_len("🇫🇷🇩🇪"), 2, "two flags");
        assert_eq!(grapheme_len("日本語"), 3);
        assert_eq!(grapheme_len(""), 0);
    }

    #[test]
    fn the_overflow_starts_after_the_limit() {
        let text = format!("{}👍🏽 too much", "a".repeat(299));
        assert_eq!(grapheme_len(&text), 309);
        let (fits, over) = split_graphemes(&text, BLUESKY_MAX_GRAPHEMES);
        assert_eq!(fits, format!("{}👍🏽", "a".repeat(299)));
        assert_eq!(over, " too much");
        assert_eq!(split_graphemes("short", 300), ("short", ""));
        assert_eq!(split_graphemes("e\u{301}x", 1), ("e\u{301}", "x"));
    }

    #[test]
    fn the_first_link_is_the_card() {
        assert_eq!(
            first_link("See https://example.com/a?b=1. And http://other.org"),
            Some("https://example.com/a?b=1")
        );
        assert_eq!(first_link("(http://example.org/x)"), Some("http://example.org/x"));
        assert_eq!(first_link("no link here"), None);
        assert_eq!(first_link("xhttps://glued.example then https://real.example"), Some("https://real.example"));
        assert_eq!(first_link("https:// nothing, then https://b.example/\"q\""), Some("https://b.example/"));
        assert_eq!(first_link("Ça https://exemple.fr/é!"), Some("https://exemple.fr/é"));
        assert_eq!(link_host("https://User@Example.COM:8080/path"), "example.com:8080");
        assert_eq!(link_host("http://example.org"), "example.org");
    }
}
