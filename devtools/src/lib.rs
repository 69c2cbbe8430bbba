//! What the local stack shares between its tools: the stream filter and the event source
//! mapping's delivery rules of template.yaml (`filter`, `delivery`), as the stream poller
//! applies them and as the tests check them.

pub mod delivery;
pub mod filter;
pub mod standin;
pub mod throttle;
