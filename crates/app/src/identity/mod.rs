//! Identity: creating users, signing in and out, the signed-in person's own profile, sessions,
//! personal access tokens, two-factor sign-in, passwords (change, reset) and re-authentication.
pub mod denials;
pub mod device;
pub mod leaving;
pub mod me;
pub mod password;
pub mod registration;
pub mod sessions;
pub mod sign_in;
pub mod step_up;
pub mod tokens;
pub mod two_factor;
pub mod view;

pub use registration::create_user_as_operator;
pub use view::UserView;
