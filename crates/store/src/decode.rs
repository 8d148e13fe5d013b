//! Reading stored text into domain types once, as rows are decoded: a value that is not one of
//! its closed list fails the read (a store error, so the caller fails closed), never a default.
use sqlx::{Database, Decode, Type};
use steward_domain::capability::Role;
use steward_domain::ids::{
    AccountId, AlertId, AttemptId, DeliveryId, InvitationId, MediaId, NotificationId, PageChoiceId, PostId, SessionId,
    TokenId, UserId,
};
use steward_domain::platform::Platform;
use steward_domain::post::{HoldReason, PostState};
use steward_domain::status::{AccountStatus, MembershipStatus, NotificationKind};

/// A `TEXT` column as read, before it becomes its domain type (`#[sqlx(try_from = "Text")]`).
pub(crate) struct Text(String);

/// A nullable `TEXT` column as read (`#[sqlx(try_from = "MaybeText")]`).
pub(crate) struct MaybeText(Option<String>);

impl<DB: Database> Type<DB> for Text
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Text
where
    String: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <String as Decode<'r, DB>>::decode(value).map(Text)
    }
}

impl<DB: Database> Type<DB> for MaybeText
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for MaybeText
where
    Option<String>: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <Option<String> as Decode<'r, DB>>::decode(value).map(MaybeText)
    }
}

/// Reads a stored name of a closed list (`FromStr`), or refuses the row.
macro_rules! named {
    ($($ty:ty),+) => {$(
        impl TryFrom<Text> for $ty {
            type Error = sqlx::error::BoxDynError;

            fn try_from(t: Text) -> Result<Self, Self::Error> {
                Ok(t.0.parse::<$ty>()?)
            }
        }

        impl TryFrom<MaybeText> for Option<$ty> {
            type Error = sqlx::error::BoxDynError;

            fn try_from(t: MaybeText) -> Result<Self, Self::Error> {
                Ok(t.0.map(|s| s.parse::<$ty>()).transpose()?)
            }
        }
    )+};
}
named!(PostState, HoldReason, Role, AccountStatus, MembershipStatus, Platform, NotificationKind);

/// Wraps a stored id.
macro_rules! ids {
    ($($ty:ty),+) => {$(
        impl From<Text> for $ty {
            fn from(t: Text) -> Self {
                <$ty>::from(t.0)
            }
        }

        impl From<MaybeText> for Option<$ty> {
            fn from(t: MaybeText) -> Self {
                t.0.map(<$ty>::from)
            }
        }
    )+};
}
ids!(
    AccountId,
    PostId,
    UserId,
    InvitationId,
    SessionId,
    TokenId,
    MediaId,
    AlertId,
    DeliveryId,
    AttemptId,
    PageChoiceId,
    NotificationId
);
