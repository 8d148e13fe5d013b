//! The authorization decision, in process (no database): `cargo bench -p steward-server --bench authz`.
#![allow(clippy::expect_used, clippy::unwrap_used)]
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use steward_app::authz::{Narrowing, Need, decide};
use steward_domain::capability::{Capability, CapabilitySet, Role};
use steward_domain::platform::Platform;
use steward_domain::status::{AccountStatus, MembershipStatus};
use steward_store::{AccountRow, MembershipRow};

fn account() -> AccountRow {
    AccountRow {
        id: "01a2023e-0000-7000-8000-000000000001".into(),
        platform: Platform::Sandbox,
        account_kind: "creator".into(),
        handle: "@olivia".into(),
        display_name: "Olivia".into(),
        owner_id: "owner".into(),
        time_zone: "Europe/Paris".into(),
        status: AccountStatus::Active,
        max_members: 5,
        min_gap_minutes: 30,
        max_posts_per_day: Some(4),
        max_devices_per_member: None,
        approvals_required: 1,
        owner_approval_required: false,
        admins_may_approve_own: false,
        rules_text: "Be kind.".into(),
        rules_version: 2,
        alert_thresholds: "{}".into(),
        credential_generation: 0,
        created_at: 0,
        updated_at: 0,
    }
}

fn membership(role: Role, grants: &str, revokes: &str) -> MembershipRow {
    MembershipRow {
        account_id: "01a2023e-0000-7000-8000-000000000001".into(),
        user_id: "editor".into(),
        role,
        grants: grants.into(),
        revokes: revokes.into(),
        expires_at: Some(i64::MAX),
        windows: "[]".into(),
        daily_quota: Some(3),
        status: MembershipStatus::Active,
        accepted_rules_version: 2,
        created_at: 0,
        updated_at: 0,
    }
}

fn bench(c: &mut Criterion) {
    let acc = account();
    let editor = membership(Role::Editor, "[]", "[]");
    let overridden = membership(Role::Editor, "[\"posts.publish\"]", "[\"analytics.view\"]");
    let accounts = vec![acc.id.clone()];
    let caps: CapabilitySet = [Capability::AccountView, Capability::DraftsCreate].into_iter().collect();
    let need = Need::Capability(Capability::DraftsCreate);
    let now = 1_800_000_000_000_000;
    c.bench_function("authz: editor, session, allowed", |b| {
        b.iter(|| decide(black_box(&Narrowing::default()), black_box(&acc), black_box(&editor), need, now).is_ok())
    });
    c.bench_function("authz: editor with overrides, denied", |b| {
        let deny = Need::Capability(Capability::MembersManage);
        b.iter(|| decide(black_box(&Narrowing::default()), black_box(&acc), black_box(&overridden), deny, now).is_err())
    });
    c.bench_function("authz: narrowed access token, allowed", |b| {
        let narrowing = Narrowing { accounts: Some(&accounts), capabilities: Some(caps) };
        b.iter(|| decide(black_box(&narrowing), black_box(&acc), black_box(&editor), need, now).is_ok())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
