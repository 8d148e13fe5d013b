//! Steward's integration suite: one test binary (each extra binary relinks the whole server).
//! Every API test runs against the real server on an ephemeral port, once on SQLite and once
//! on PostgreSQL (when `STEWARD_TEST_POSTGRES_URL` is set; CI sets it and
//! `STEWARD_REQUIRE_ALL=1`, so nothing skips there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod access_matrix;
mod activity;
mod adapters;
mod alerts;
mod api_errors;
mod attacks;
mod audit;
mod audit_concurrency;
mod browser;
mod burst;
mod code_order;
mod company_pages;
mod compose;
mod connect;
mod delegation;
mod demo;
mod hardening;
mod housekeeping;
mod identity;
mod invitation_mail;
mod leaving;
mod lockdown;
mod media;
mod member_devices;
mod moderation;
mod notifications;
mod passwords;
mod plain_words;
mod post_extras;
mod posts;
mod process;
mod publishing;
mod rate_limits;
mod replicas;
mod secrets;
mod sessions;
mod throttle;
mod tiktok_media;
mod tokens;
mod totp;
mod vault;
mod web;
mod web_activity;
mod web_calendar;
mod web_cw;
mod web_editor;
mod web_inbox;
mod web_notifications;
mod web_planning;
mod web_platforms;
mod web_webnav;
