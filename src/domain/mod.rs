//! The domain: what a call record is, how lists are filtered and paginated, and
//! the contract's validation rules. Nothing here knows about HTTP or SQL.

pub mod call;
pub mod cursor;
pub mod export;
pub mod filter;
pub mod json;
pub mod listing;
pub mod live;
pub mod money;
pub mod pagination;
pub mod params;
pub mod phone;
pub mod post_call;
pub mod search;
pub mod stats;
pub mod timefmt;
pub mod validation;
pub mod zone;

pub use call::{AnsweredBy, CallRecord, CallStatus, CallType, CallView, JsonText, NewCall};
pub use filter::CallFilter;
pub use listing::CallListQuery;
pub use money::Money;
pub use pagination::PageQuery;
pub use validation::FieldErrors;
