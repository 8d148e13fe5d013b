//! The analytics report of an account (the web app's `/accounts/{id}/analytics` and its CSV
//! download): each recently published post with its counts, as the platform tells them, and
//! when it was published. Same authorization (`analytics.view`) and platform calls as the API's
//! `GET /accounts/{id}/analytics` ([`super::analytics`]).
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, PostId};
use steward_domain::platform::Platform;

use super::{platform_error, published_rows};
use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult};
use crate::platforms;
use crate::services::Services;

/// The four counts, in the order of [`PostCounts::values`] and of [`count_names`].
pub const COUNTS: usize = 4;

/// One published post and what the platform counts of it (`None`: not told).
#[derive(Debug, Clone)]
pub struct PostCounts {
    pub post_id: PostId,
    pub title: Option<String>,
    pub text: String,
    /// Unix microseconds.
    pub published_at: i64,
    pub impressions: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
}

impl PostCounts {
    /// Views (impressions), likes, comments, shares.
    #[must_use]
    pub fn values(&self) -> [Option<i64>; COUNTS] {
        [self.impressions, self.likes, self.comments, self.shares]
    }
}

#[derive(Debug)]
pub struct Report {
    pub platform: Platform,
    /// The account's handle on the platform (for a download's file name).
    pub handle: String,
    /// The account's time zone (IANA name), in which days are read.
    pub time_zone: String,
    pub followers: Option<i64>,
    /// Newest first.
    pub posts: Vec<PostCounts>,
    /// Which of the four counts the platform told for at least one post.
    pub told: [bool; COUNTS],
    /// Why there are no counts at all (a platform that gives none for this kind of account, a
    /// credential it refuses), in one sentence.
    pub unavailable: Option<String>,
}

/// What each count is called on the platform, in words (views, likes, comments, shares).
#[must_use]
pub fn count_names(platform: Platform) -> [&'static str; COUNTS] {
    match platform {
        Platform::Mastodon => ["Views", "Favourites", "Replies", "Boosts"],
        Platform::Bluesky => ["Views", "Likes", "Replies", "Reposts and quotes"],
        Platform::LinkedIn => ["Impressions", "Reactions", "Comments", "Shares"],
        Platform::TikTok | Platform::Sandbox => ["Views", "Likes", "Comments", "Shares"],
    }
}

/// The report, for members holding `analytics.view`.
pub async fn analytics_report(s: &Services, ctx: &Ctx, who: &Principal, account_id: &AccountId) -> AppResult<Report> {
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::AnalyticsView)).await?;
    let account = &access.account;
    let mut report = Report {
        platform: account.platform,
        handle: account.handle.clone(),
        time_zone: account.time_zone.clone(),
        followers: None,
        posts: Vec::new(),
        told: [false; COUNTS],
        unavailable: None,
    };
    let rows = published_rows(s, account_id).await?;
    let externals: Vec<String> = rows.iter().filter_map(|p| p.external_id.clone()).collect();
    let stats = match platforms::analytics(s, account, &externals).await.map_err(|e| platform_error(s, account, e)) {
        Ok(stats) => stats,
        Err(AppError::Conflict(why)) => {
            report.unavailable = Some(why);
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    report.followers = stats.followers;
    report.posts = rows
        .into_iter()
        .filter_map(|p| {
            let external = p.external_id.as_deref()?;
            let st = stats.posts.iter().find(|st| st.external_id == external)?;
            Some(PostCounts {
                published_at: p.published_at.unwrap_or(p.updated_at),
                post_id: p.id,
                title: p.title,
                text: p.text,
                impressions: st.impressions,
                likes: st.likes,
                comments: st.comments,
                shares: st.shares,
            })
        })
        .collect();
    for p in &report.posts {
        for (i, v) in p.values().into_iter().enumerate() {
            report.told[i] |= v.is_some();
        }
    }
    Ok(report)
}

/// The report as CSV (RFC 4180, CRLF): a header row, then a post a row, newest first, with its
/// publication instant in the account's time zone; a count the platform does not tell is an
/// empty cell. Post texts come from people and the file opens in spreadsheets, so a cell that
/// would run as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`.
#[must_use]
pub fn to_csv(report: &Report) -> String {
    let zone = steward_domain::windows::parse_time_zone(&report.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let names = count_names(report.platform);
    let mut out = Vec::new();
    let published = format!("Published ({})", zone.iana_name().unwrap_or("UTC"));
    let header: [&str; 7] = ["Post", &published, names[0], names[1], names[2], names[3], "Steward post id"];
    row(&mut out, &header);
    for p in &report.posts {
        let label = p.title.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or(p.text.as_str());
        let at = jiff::Timestamp::from_microsecond(p.published_at)
            .map(|t| t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let counts: Vec<String> = p.values().iter().map(|v| v.map(|n| n.to_string()).unwrap_or_default()).collect();
        let cells: [&str; 7] = [label, &at, &counts[0], &counts[1], &counts[2], &counts[3], p.post_id.as_str()];
        row(&mut out, &cells);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn row(out: &mut Vec<u8>, cells: &[&str]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::activity::export::write_csv_cell(out, cell);
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_quoted_and_formulas_defused() {
        let post = |text: &str, likes| PostCounts {
            post_id: PostId::new("p1".to_string()),
            title: None,
            text: text.into(),
            published_at: 1_800_000_000_000_000,
            impressions: Some(10),
            likes,
            comments: Some(0),
            shares: None,
        };
        let report = Report {
            platform: Platform::Mastodon,
            handle: "@shop".into(),
            time_zone: "Europe/Paris".into(),
            followers: None,
            posts: vec![post("=HYPERLINK(\"x\")", Some(3)), post("Hello, \"you\"", None)],
            told: [true, true, true, false],
            unavailable: None,
        };
        let csv = to_csv(&report);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "Post,Published (Europe/Paris),Views,Favourites,Replies,Boosts,Steward post id");
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"x\"\")\",2027-01-15 09:00,10,3,0,,p1");
        assert_eq!(lines[2], "\"Hello, \"\"you\"\"\",2027-01-15 09:00,10,,0,,p1");
    }
}
