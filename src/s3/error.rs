//! Why an S3 request was refused before authorization: one error type for classification,
//! addressing and parameter checks (its code is S3's; `InvalidRequest` 400 unless noted).

/// Why a request could not be classified (always refused; `InvalidRequest` 400 unless noted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyError {
    pub code: &'static str,
    pub message: String,
    /// `InvalidArgument`: the header or parameter at fault (S3's `<ArgumentName>`).
    pub argument: Option<String>,
}

pub(crate) fn invalid(message: impl Into<String>) -> ClassifyError {
    ClassifyError {
        code: "InvalidRequest",
        message: message.into(),
        argument: None,
    }
}

pub(crate) fn method_not_allowed() -> ClassifyError {
    ClassifyError {
        code: "MethodNotAllowed",
        message: "The specified method is not allowed against this resource.".into(),
        argument: None,
    }
}

/// S3's `InvalidArgument`, naming the header or parameter (never echoing its value).
pub(crate) fn invalid_argument(name: &str, message: impl Into<String>) -> ClassifyError {
    ClassifyError {
        code: "InvalidArgument",
        message: message.into(),
        argument: Some(name.to_string()),
    }
}
