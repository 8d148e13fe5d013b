//! A device in words, read from the `User-Agent` a session was opened with ("Firefox on
//! Windows"), so an owner looking at a member's sessions recognises them without reading the
//! raw header. Best effort: an unknown agent is "Unknown browser on an unknown system".

/// "Browser on System" for a `User-Agent`, or the words for "unknown" parts.
#[must_use]
pub fn describe(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    format!("{} on {}", browser(ua), system(ua))
}

fn browser(ua: &str) -> &'static str {
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
    const BROWSERS: [(&str, &str); 8] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("CriOS/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("reqwest", "a program"),
    ];
    BROWSERS.iter().find(|(needle, _)| ua.contains(needle)).map_or("Unknown browser", |(_, name)| name)
}

fn system(ua: &str) -> &'static str {
    const SYSTEMS: [(&str, &str); 7] = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    SYSTEMS.iter().find(|(needle, _)| ua.contains(needle)).map_or("an unknown system", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_agents_read_as_words() {
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe(Some(firefox)), "Firefox on Windows");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                    Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(describe(Some(edge)), "Edge on Windows");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                      Version/18.1 Mobile/15E148 Safari/604.1";
        assert_eq!(describe(Some(iphone)), "Safari on iPhone");
        let android =
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
        assert_eq!(describe(Some(android)), "Chrome on Android");
        assert_eq!(describe(None), "Unknown browser on an unknown system");
    }
}
