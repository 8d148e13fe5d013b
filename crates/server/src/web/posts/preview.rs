//! The platform preview of the editor and the post page: the post as its platform will show
//! it, rendered on the server from the saved text by `steward_domain::preview`'s rules (the
//! page script applies the same rules as the person types).
use steward_domain::preview::{
    BLUESKY_MAX_GRAPHEMES, LINKEDIN_FOLD_CHARS, LINKEDIN_FOLD_LINES, content_warning, first_link, grapheme_len,
    link_host, linkedin_fold, published_text, split_graphemes,
};

/// A post's media as the preview and the media list show it.
#[derive(Clone)]
pub struct PreviewMedia {
    pub url: String,
    /// `image` or `video`.
    pub kind: String,
    /// Uploaded to this server: shown inline (the page's CSP allows only our own images and
    /// videos), through the media route's authorization.
    pub local: bool,
    pub alt: String,
}

/// The first link of the text, as a card.
pub struct LinkCard {
    pub host: String,
    pub url: String,
}

pub struct PlatformPreview {
    /// `linkedin`, `tiktok`, `mastodon`, `bluesky`, or `sandbox` (a plain preview).
    pub platform: String,
    pub account_name: String,
    pub handle: String,
    /// The text shown: all of it, or LinkedIn's part before "…see more", or what fits Bluesky.
    pub shown: String,
    /// LinkedIn folds the rest behind "…see more".
    pub more: bool,
    /// What passes Bluesky's limit (shown marked).
    pub overflow: String,
    pub graphemes: usize,
    pub link: Option<LinkCard>,
    pub media: Vec<PreviewMedia>,
    /// TikTok's frame: the post's first video, if it is one of ours (else a placeholder).
    pub frame: Option<PreviewMedia>,
    pub fold_chars: usize,
    pub fold_lines: usize,
    pub max_graphemes: usize,
    /// Mastodon: the content warning the status is folded behind (empty: shown in full).
    pub warning: String,
}

impl PlatformPreview {
    #[must_use]
    pub fn over_by(&self) -> usize {
        self.graphemes.saturating_sub(self.max_graphemes)
    }
}

/// The preview of a post with this title, text and media on `platform`.
#[must_use]
pub fn platform_preview(
    platform: &str,
    account_name: &str,
    handle: &str,
    title: Option<&str>,
    text: &str,
    warning: Option<&str>,
    media: Vec<PreviewMedia>,
) -> PlatformPreview {
    let full = published_text(title, text);
    let (shown, more, overflow) = match platform {
        "linkedin" => {
            let fold = linkedin_fold(&full);
            (fold.shown.to_string(), fold.folded, String::new())
        }
        "bluesky" => {
            let (fits, over) = split_graphemes(&full, BLUESKY_MAX_GRAPHEMES);
            (fits.to_string(), false, over.to_string())
        }
        _ => (full.clone(), false, String::new()),
    };
    let link = first_link(&full).map(|url| LinkCard { host: link_host(url), url: url.to_string() });
    let frame = media.iter().find(|m| m.kind == "video" && m.local).cloned();
    PlatformPreview {
        platform: platform.to_string(),
        account_name: account_name.to_string(),
        handle: handle.to_string(),
        shown,
        more,
        overflow,
        graphemes: grapheme_len(&full),
        link,
        media,
        frame,
        fold_chars: LINKEDIN_FOLD_CHARS,
        fold_lines: LINKEDIN_FOLD_LINES,
        max_graphemes: BLUESKY_MAX_GRAPHEMES,
        warning: if platform == "mastodon" {
            content_warning(warning).unwrap_or_default().to_string()
        } else {
            String::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_platform_applies_its_rule_to_the_published_text() {
        let long = "word ".repeat(60);
        let p = platform_preview("linkedin", "Olivia", "olivia", Some("Sale"), &long, Some("CW"), Vec::new());
        assert!(p.more);
        assert_eq!(p.shown, linkedin_fold(&format!("Sale\n\n{long}")).shown);
        let p = platform_preview(
            "bluesky",
            "Olivia",
            "olivia",
            None,
            &format!("{long}https://example.com/x"),
            None,
            Vec::new(),
        );
        assert_eq!(p.graphemes, 300 + "https://example.com/x".len());
        assert_eq!(p.overflow, "https://example.com/x");
        assert_eq!(p.over_by(), 21);
        assert_eq!(p.link.as_ref().map(|l| l.host.as_str()), Some("example.com"));
        let p = platform_preview("mastodon", "Olivia", "@o@m.example", None, &long, None, Vec::new());
        assert_eq!((p.shown.as_str(), p.more, p.overflow.as_str(), p.warning.as_str()), (long.as_str(), false, "", ""));
        // Only Mastodon folds a status behind a warning.
        assert_eq!(p.warning, platform_preview("linkedin", "O", "o", None, "x", Some("CW"), Vec::new()).warning);
        let p = platform_preview("mastodon", "Olivia", "@o@m.example", None, "x", Some(" Spoilers "), Vec::new());
        assert_eq!(p.warning, "Spoilers");
    }
}
