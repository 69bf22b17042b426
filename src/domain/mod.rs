//! The domain: what a call record is, how lists are filtered and paginated, and
//! the contract's validation rules. Nothing here knows about HTTP or SQL.

pub mod call;
pub mod filter;
pub mod json;
pub mod live;
pub mod money;
pub mod pagination;
pub mod phone;
pub mod post_call;
pub mod timefmt;
pub mod validation;

pub use call::{AnsweredBy, CallRecord, CallStatus, CallType, CallView, JsonText, NewCall};
pub use filter::{CallFilter, CallListQuery, PageQuery};
pub use money::Money;
pub use validation::FieldErrors;
