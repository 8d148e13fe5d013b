//! Accepting an account's house rules: a member accepts the current version before doing
//! anything else on the account.
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::ids::AccountId;
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::usecase::{Audit, audited};

#[derive(Deserialize, ToSchema)]
pub struct AcceptRulesRequest {
    /// The version being accepted: must be the current one.
    #[schema(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    pub version: i64,
}

/// Records that `who`, signed in, accepted the rules' current version (any other version is a
/// conflict).
pub async fn accept_rules(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    input: AcceptRulesRequest,
) -> AppResult<()> {
    let id = account_id;
    ctx.slot.set_action(Action::RulesAccept, Some(format!("account:{id}")));
    // The owner's terms are agreed to by the person, as an invitation is accepted: a token
    // (a script's, or one narrowed to reading the account) would open the person's every
    // other session and token to the account on their behalf.
    who.require_signed_in("accept house rules while signed in, not with an access token")?;
    let access = authorize(s, ctx, who, id, Need::ReadAccountAndRules).await?;
    if input.version != access.account.rules_version || access.account.rules_version == 0 {
        return Err(AppError::Conflict(format!(
            "the current house rules are version {}; read them and accept that version",
            access.account.rules_version
        )));
    }
    let now = s.clock.now_us();
    audited(s, ctx, &who.actor(), async |tx| {
        tx.accept_rules(id, &who.user_id, input.version, now).await?;
        let audit = Audit::on_account(id, Action::RulesAccept)
            .target(format!("account:{id}"))
            .detail(json!({ "version": input.version }));
        Ok(((), audit))
    })
    .await
}
