//! The background workers `App::serve` runs beside the HTTP server: loops that wake up and
//! call the application. What each round decides is the application's; only the timing is here.
pub mod anchor;
pub mod deliveries;
pub mod housekeeping;
pub mod notifications;
pub mod publishing;
pub mod sweeper;
