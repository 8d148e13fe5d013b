//! Members and invitations: inviting someone with the terms of their membership, accepting
//! (joining), withdrawing, changing a member's terms, removing a member or leaving.
pub mod devices;
pub mod invitations;
pub mod membership;
pub mod terms;
pub mod view;
