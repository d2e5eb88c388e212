//! Password resets and invitations by email, through a real local SMTP server.

use crate::helpers::{PASSWORD, unique_email};
use crate::notifications::{SmtpSink, link_in, spawn};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_reset_link_by_email_sets_a_new_password_once_and_ends_sessions() {
    let smtp = SmtpSink::start().await;
    let app = spawn(false, Some(&smtp)).await;
    let owner = app.signup("Acme").await;
    let (status, created) = app
        .post("/api/tokens", &owner.token, json!({"name": "script"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let api_token = created["token"].as_str().unwrap().to_owned();

    // Unknown addresses get the same answer and no mail.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/auth/password-reset",
            None,
            Some(json!({"email": "nobody@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/auth/password-reset",
            None,
            Some(json!({"email": owner.email.to_uppercase()})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mails = smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.mails().len(), 1, "no mail for an unknown address");
    assert_eq!(mails[0].to, owner.email);
    assert_eq!(mails[0].subject, "Reset your Hakobu password");
    let link = link_in(&mails[0].body);
    assert!(
        link.starts_with("http://127.0.0.1:8080/reset-password/"),
        "{link}"
    );
    let token = link.rsplit('/').next().unwrap().to_owned();
    let stored = app
        .query_strings("SELECT encode(token_hash, 'hex') FROM password_resets")
        .await;
    assert!(
        !stored[0][0].as_deref().unwrap().contains(&token),
        "only the digest is stored"
    );

    let confirm = |token: String, password: &'static str| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/auth/password-reset/confirm",
                None,
                Some(json!({"token": token, "password": password})),
            )
            .await
        }
    };
    let (status, body) = confirm(token.clone(), "short").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "password");
    let (status, body) = confirm("not-a-token".to_owned(), "a brand new passphrase").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "token");
    let (status, body) = confirm(token.clone(), "a brand new passphrase").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The old session ended; the old password no longer works; the new one does.
    let (status, _) = app.get("/api/me", &owner.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // API tokens made with the old password end too.
    let (status, body) = app.get("/api/me", &api_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let login = |password: &'static str| {
        let app = &app;
        let email = owner.email.clone();
        async move {
            app.call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await
            .0
        }
    };
    assert_eq!(login(PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(login("a brand new passphrase").await, StatusCode::OK);
    // Single use.
    let (status, _) = confirm(token, "yet another passphrase").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn invitations_are_sent_by_email_when_smtp_is_configured() {
    let smtp = SmtpSink::start().await;
    let app = spawn(false, Some(&smtp)).await;
    let owner = app.signup("Acme").await;
    let email = unique_email("invitee");
    let (status, body) = app
        .post(
            "/api/invitations",
            &owner.token,
            json!({"email": email, "org_role": "member", "teams": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, email);
    assert_eq!(mails[0].subject, "Owner invited you to Hakobu");
    assert_eq!(
        link_in(&mails[0].body),
        body["invite_url"].as_str().unwrap()
    );
}

/// The public request form cannot flood an inbox: three links per account and hour.
#[tokio::test]
async fn reset_links_are_limited_per_account_and_hour() {
    let smtp = SmtpSink::start().await;
    let app = spawn(false, Some(&smtp)).await;
    let owner = app.signup("Acme").await;
    for _ in 0..6 {
        let (status, _) = app
            .call(
                Method::POST,
                "/api/auth/password-reset",
                None,
                Some(json!({"email": owner.email})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "the answer never changes");
    }
    smtp.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.mails().len(), 3);
    let stored = app
        .query_strings("SELECT count(*)::text FROM password_resets")
        .await;
    assert_eq!(stored, [[Some("3".to_owned())]]);
}
