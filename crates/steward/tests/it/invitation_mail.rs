//! Invitations by email: the invitee is mailed the link (text and HTML), the members page shows
//! whether it went out or why not, and "send again" mails a new link (the old one stops working).
use serde_json::json;

use crate::helpers::accounts::{invite, sandbox_account};
use crate::helpers::html::{csrf_in, page, post_form};
use crate::helpers::mail::{eventually, mails_to, token_after, with_mail};
use crate::helpers::*;

with_mail! {
    async fn an_invitation_is_mailed_and_can_be_sent_again(app: TestApp, sink: SmtpSink) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@mailed").await;
        let r = invite(&app, &owner, &acc, json!({"email": "ines@example.com", "role": "editor"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["mail_status"], "sent", "{}", r.text);
        let first = r.body["token"].as_str().unwrap().to_string();
        let mail = eventually("the invitation", async || mails_to(&sink, "ines@example.com").first().cloned()).await;
        assert!(mail.contains("multipart/alternative") && mail.contains("Content-Type: text/html"), "{mail}");
        assert!(mail.contains("Subject: [Steward] owner invites you to"), "{mail}");
        assert_eq!(token_after(&mail, "/invite/"), first);
        let list = app.get(&format!("/api/v1/accounts/{acc}/invitations")).auth(&owner).send().await;
        assert_eq!(list.body["items"][0]["mail_status"], "sent", "{}", list.text);
        let (_, html) = page(&app, &owner, &format!("/accounts/{acc}/members")).await;
        assert!(html.contains("email sent") && html.contains("Send again"), "{html}");

        // Sending again: a new link by mail, the old one dead.
        let inv = r.body["id"].as_str().unwrap();
        let again = app.post(&format!("/api/v1/accounts/{acc}/invitations/{inv}/resend")).auth(&owner).send().await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.body["mail_status"], "sent");
        let mail = eventually("the second mail", async || mails_to(&sink, "ines@example.com").get(1).cloned()).await;
        let second = token_after(&mail, "/invite/");
        assert_ne!(second, first);
        assert!(again.body["invite_url"].as_str().unwrap().ends_with(&second));
        let ines = app.user("ines@example.com").await;
        app.post(&format!("/api/v1/invitations/{first}/accept")).auth(&ines).send().await.assert_problem(404, "not-found");
        let ok = app.post(&format!("/api/v1/invitations/{second}/accept")).auth(&ines).send().await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        // Only someone who manages members may send it again.
        app.post(&format!("/api/v1/accounts/{acc}/invitations/{inv}/resend")).auth(&ines).send().await.assert_problem(403, "forbidden");
    }

    async fn a_delivery_error_is_shown_and_send_again_retries(app: TestApp, sink: SmtpSink) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@bounce").await;
        sink.refuse_next(1);
        let r = invite(&app, &owner, &acc, json!({"email": "late@example.com", "role": "viewer"})).await;
        assert_eq!(r.status, 201, "the invitation exists even if the mail failed: {}", r.text);
        assert_eq!(r.body["mail_status"], "failed");
        assert!(r.body["mail_error"].as_str().unwrap().contains("451"), "{}", r.text);
        let (_, html) = page(&app, &owner, &format!("/accounts/{acc}/members")).await;
        assert!(html.contains("email not delivered"), "{html}");
        // "Send again" on the page.
        let inv = r.body["id"].as_str().unwrap();
        let csrf = csrf_in(&html);
        let (status, _, html) =
            post_form(&app, &owner.cookie(), &format!("/accounts/{acc}/invitations/{inv}/resend"), &[("csrf_token", &csrf)]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Invitation sent again to late@example.com"), "{html}");
        assert!(html.contains("email sent"), "{html}");
        assert_eq!(mails_to(&sink, "late@example.com").len(), 1);
        let events = app.get(&format!("/api/v1/accounts/{acc}/activity?action=invitations.resend")).auth(&owner).send().await;
        assert_eq!(events.body["items"].as_array().unwrap().len(), 1, "{}", events.text);
    }
}

both_backends! {
    async fn without_mail_an_invitation_is_not_mailed_and_its_link_is_shown(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@nomail").await;
        let r = invite(&app, &owner, &acc, json!({"email": "ivy@example.com", "role": "viewer"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert!(r.body["mail_status"].is_null() && r.body["invite_url"].is_string(), "{}", r.text);
        let inv = r.body["id"].as_str().unwrap();
        let again = app.post(&format!("/api/v1/accounts/{acc}/invitations/{inv}/resend")).auth(&owner).send().await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert!(again.body["mail_status"].is_null());
        assert!(again.body["invite_url"].as_str().unwrap().contains("/invite/sti_"));
    }
}
