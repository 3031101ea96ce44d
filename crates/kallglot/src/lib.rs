pub mod api_key;
pub mod error_code;
pub mod metadata;
pub mod retry;
