//! The catalogue of messages a person reads and a client may translate.
//!
//! Each message has a stable code (`required`, `forbidden`) that clients match instead of
//! English wording, and its English template, the one place the English sentence is
//! written. `{name}` parts are filled from the message's params, which travel with the code
//! in [`crate::api::error::ErrorBody`] and [`crate::validation::FieldError`], so a
//! translation can put them where its language wants them.
//!
//! Messages not (yet) in the catalogue are sent as English alone, without a code.
//!
//! It depends on nothing else in the crate, so the validators of every module (and `api`'s
//! bodies) can use it without a loop between modules.

use std::collections::BTreeMap;
use std::fmt;

/// The values of a message's `{name}` parts, by name.
pub type MessageParams = BTreeMap<String, String>;

macro_rules! catalogue {
    ($($(#[$doc:meta])* $variant:ident = $code:literal => $english:literal;)*) => {
        /// A message of the catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MessageCode { $($(#[$doc])* $variant,)* }

        impl MessageCode {
            /// Every message, for the completeness tests of translations.
            pub const ALL: &'static [MessageCode] = &[$(MessageCode::$variant,)*];

            /// The stable code sent to clients.
            pub fn code(self) -> &'static str {
                match self { $(MessageCode::$variant => $code,)* }
            }

            /// The English sentence with its `{name}` parts unfilled.
            pub fn english_template(self) -> &'static str {
                match self { $(MessageCode::$variant => $english,)* }
            }

            /// The message a code names; `None` for a code this build does not know (a
            /// newer server), which a client shows as its English message.
            pub fn from_code(code: &str) -> Option<MessageCode> {
                match code { $($code => Some(MessageCode::$variant),)* _ => None }
            }
        }
    };
}

catalogue! {
    // --- field checks of `crate::validation` ---
    Required = "required" => "is required";
    TooLong = "too_long" => "must be at most {n} characters";
    ControlCharacters = "control_characters" => "must not contain control characters such as line breaks";
    NotAnEmail = "not_an_email" => "must be an email address such as name@example.com";
    PasswordTooShort = "password_too_short" => "must be at least {n} characters long";
    PasswordTooLong = "password_too_long" => "must be at most {n} characters long";
    // --- accounts, members and teams ---
    SamePassword = "same_password" => "must differ from the current password";
    SameTeamTwice = "same_team_twice" => "lists the same team twice";
    TokenDays = "token_days" => "must be a number of days from 1 to {n}";
    NotCurrentPassword = "not_current_password" => "is not your current password";
    NotATeam = "not_a_team" => "is not a team of this organization";
    WrongPassword = "wrong_password" => "The email or password is wrong.";
    DuplicateAccount = "duplicate_account" => "An account with this email already exists. Sign in instead, or use another email.";
    AlreadyMember = "already_member" => "Someone with this email already has an account.";
    InvalidInvitation = "invalid_invitation" => "This invitation link is not valid any more: it was used, withdrawn or has expired. Ask your administrator for a new one.";
    DuplicateTeam = "duplicate_team" => "A team with this name already exists.";
    OnlyOwner = "only_owner" => "This is the organization's only owner. Make someone else an owner first.";
    OnlyOwnerRemove = "only_owner_remove" => "This is the organization's only owner and cannot be removed.";
    // --- sign-in and the service itself ---
    SignedOut = "signed_out" => "You are not signed in, or your session has ended. Sign in again.";
    AccountGone = "account_gone" => "Your account no longer exists.";
    TooManyFailuresAccount = "too_many_failures_account" => "Too many failed sign-in attempts for this account. Wait {n} minutes and try again.";
    TooManyFailuresAddress = "too_many_failures_address" => "Too many failed sign-in attempts from your network address. Wait {n} minutes and try again.";
    TooManyAccountRequests = "too_many_account_requests" => "Too many sign-ups, password resets or invitation acceptances from your network address. Wait {n} minutes and try again.";
    TooManyProbesUser = "too_many_probes_user" => "You have reached the limit of {limit} connection tests, previews and discovery requests per minute per person. Wait {n} seconds and try again.";
    TooManyProbesOrganization = "too_many_probes_organization" => "Your organization has reached its limit of {limit} connection tests, previews and discovery requests per minute. Wait {n} seconds and try again.";
    DatabaseUnavailable = "database_unavailable" => "The service cannot reach its database right now. Try again in a moment.";
    Internal = "internal" => "Something went wrong on our side. Try again; if it keeps happening, tell your administrator the time and what you did.";
    // --- access ---
    /// `action` is an English phrase ("rename the team"); translations may leave it out.
    Forbidden = "forbidden" => "Your role does not allow you to {action}.";
    NotFound = "not_found" => "not found";
    /// `what` is an English noun ("team"); translations may leave it out.
    NamedNotFound = "named_not_found" => "{what} not found";
    // --- SQL a job reads ---
    SingleSelect = "single_select" => "must be a single SELECT (or WITH ... SELECT) query";
    SingleStatement = "single_statement" => "must be a single statement: remove the ; between statements";
    // --- notification destinations and rules ---
    SlackUrlRequired = "slack_url_required" => "is required: paste the incoming webhook URL Slack gave you";
    UrlScheme = "url_scheme" => "must be a URL starting with https:// (or http://)";
    UrlHost = "url_host" => "must name a host, e.g. https://hooks.example.com/path";
    HeaderName = "header_name" => "must be 1 to 100 letters, digits, - or _ (e.g. Authorization)";
    HeaderReserved = "header_reserved" => "is set by Hakobu itself and cannot be changed";
    ListedTwice = "listed_twice" => "is listed twice";
    DuplicateDestination = "duplicate_destination" => "A destination with this name already exists.";
    NotConfirmedYet = "not_confirmed_yet" => "This email address has not been confirmed yet: follow the link in the confirmation email first.";
    ThresholdSecondsRequired = "threshold_seconds_required" => "is required: after how many seconds of running to notify";
    ThresholdRowsRequired = "threshold_rows_required" => "is required: the number of rows to compare with";
    SlackMention = "slack_mention" => "must be a Slack member or group id (U024BE7LH, S0614TZR7), here or channel";
    NotADestination = "not_a_destination" => "is not a notification destination of this organization";
    ResetLinkInvalid = "reset_link_invalid" => "This password reset link is not valid any more: it was used, replaced by a newer one, or has expired. Ask for a new one.";
    ResetTokenRequired = "reset_token_required" => "is required: use the link from the email";
    // --- saved secrets bound to where they were saved; API token scopes ---
    /// A note on a secret field after an update: `changed` is a setting's name.
    SecretCleared = "secret_cleared" => "was cleared because {changed} changed; enter it again";
    /// On a secret field an update needs: `changed` is a setting's name.
    SecretReenter = "secret_reenter" => "must be entered again because {changed} changed: a saved secret is only sent where it was saved";
    /// On the changed setting of a test that would fill in saved secrets.
    SecretForChangedSetting = "secret_for_changed_setting" => "differs from the saved connection: enter the {secret} again to test with it, since a saved {secret} is only sent where it was saved";
    TooManyStreams = "too_many_streams" => "You already have {limit} live run pages open. Close some tabs showing runs, then reload this one.";
    /// The operator's quotas per organization (`limit` a number).
    QuotaJobs = "quota_jobs" => "Your organization has reached its limit of {limit} jobs. Delete jobs you no longer need, or ask the operator of this Hakobu to raise the limit.";
    QuotaSchedules = "quota_schedules" => "Your organization has reached its limit of {limit} schedules. Delete schedules you no longer need, or ask the operator of this Hakobu to raise the limit.";
    QuotaQueuedRuns = "quota_queued_runs" => "Your organization already has {limit} runs waiting to start, its limit. Wait for some to start or cancel runs you do not need, then try again.";
    ReadOnlyToken = "read_only_token" => "This API token is read-only: it can look but not change anything. Create a token with full access to make changes.";
    // --- jobs, variables, checks and runs ---
    /// A task size Fargate does not offer: `cpu` vCPUs take `from` to `to` MiB in steps of `step`.
    FargateMemory = "fargate_memory" => "must be a memory size offered with {cpu} vCPU: {from} to {to} MiB in steps of {step} MiB";
    SelectOneValue = "select_one_value" => "is required: a SELECT returning one value";
    FormatRequired = "format_required" => "is required, e.g. %Y-%m-%d";
    CheckNameRequired = "check_name_required" => "is required: say what the check makes sure of";
    CheckNameTaken = "check_name_taken" => "is used by another check of this job";
    NotBefore = "not_before" => "must not be before from";
    DateTime = "date_time" => "must be a date and time, e.g. 2026-11-01 00:00";
    WholeNumber = "whole_number" => "must be a whole number";
    // --- schedules ---
    MinuteOfHour = "minute_of_hour" => "must be a minute from 0 to 59";
    ChooseWeekday = "choose_weekday" => "choose at least one day of the week";
    WeekdayTwice = "weekday_twice" => "lists a day more than once";
    DayOfMonth = "day_of_month" => "must be a day of the month from 1 to 31";
    NeverFires = "never_fires" => "never fires (no such date in the next 8 years)";
    // --- variable formats ---
    BadFormat = "bad_format" => "{format} is not a valid format; use strftime codes such as %Y (year), %m (month), %d (day), %H (hour), %M (minute)";
    // --- webhooks, test sends and rule thresholds ---
    UrlTooLong = "url_too_long" => "must be at most {n} characters, without spaces";
    HeaderValueTooLong = "header_value_too_long" => "must be at most {n} characters, without line breaks";
    TooManyHeaders = "too_many_headers" => "at most {n} headers";
    DeliveredStatus = "delivered_status" => "Delivered: the endpoint answered {n}.";
    DeliveredMail = "delivered_mail" => "Delivered to the mail server.";
    ThresholdSecondsRange = "threshold_seconds_range" => "must be from 1 to {max} seconds (7 days)";
    RowsAtLeast = "rows_at_least" => "must be {n} or more rows";
    ThresholdNotApplicable = "threshold_not_applicable" => "only applies to rows_below, rows_above and duration_over, not {event}";
    OneLine = "one_line" => "must be one line of at most {n} characters";
    TemplateBroken = "template_broken" => "cannot be rendered: {detail}. Names you can use: {names}";
    // --- variables, backfills and manual runs ---
    NotAVariable = "not_a_variable" => "{found} at position {position} is not a variable: write a variable as $name$ (letters, digits and _), and $$ for a dollar sign";
    UnknownVariable = "unknown_variable" => "unknown variable {var} at position {position}; known here: {known}";
    QuotedVariable = "quoted_variable" => "{var} at position {position} is inside quotes or a comment; Hakobu writes a variable's value as a quoted SQL value itself, so remove the quotes around it";
    VariableName = "variable_name" => "must be letters, digits and _ (at most {n}), starting with a letter or _, e.g. target_date";
    BuiltIn = "built_in" => "{var} is built in; choose another name";
    NameTaken = "name_taken" => "{other} already uses the name {var}";
    UnknownZone = "unknown_zone" => "unknown time zone {zone}; expected an IANA name such as Asia/Tokyo or UTC";
    FromToSeconds = "from_to_seconds" => "must be from {from} to {to} seconds";
    FromTo = "from_to" => "must be from {from} to {to}";
    MaxVariables = "max_variables" => "a job can have at most {n} variables";
    RangeRuns = "range_runs" => "the range makes {n} runs; at most {max} at once";
    NoSuchVariable = "no_such_variable" => "the job has no variable named {var}";
    BuiltInValue = "built_in_value" => "is built in and cannot be given a value";
    NameValueLine = "name_value_line" => "line {n} must read name=value";
    // --- schedule recurrences ---
    NotATime = "not_a_time" => "{time} is not a time; expected HH:MM on a 24-hour clock, e.g. 02:30 or 18:00";
    ScheduleZone = "schedule_zone" => "unknown time zone {zone}; expected an IANA name such as Asia/Tokyo, Europe/Berlin or UTC";
    CronFields = "cron_fields" => "expected 5 fields separated by spaces (minute hour day-of-month month day-of-week), e.g. \"30 2 * * 1-5\"; found {found}";
    CronInvalid = "cron_invalid" => "is not a valid cron expression: {detail}";
    // --- files on the Hakobu server (`crate::files`) ---
    PathAbsolute = "path_absolute" => "must be a path inside your organization's files folder, such as exports/orders_, not one starting with /";
    PathLeavesFolder = "path_leaves_folder" => "this path leaves your organization's files folder";
    /// `kind` is the connection kind's name (`local_files`).
    LocalFilesOff = "local_files_off" => "{kind} connections are turned off on this service: the operator has not set a folder for files on the Hakobu server (HAKOBU_LOCAL_FILES_ROOT)";
    // --- Liquid templates: imported configs and notification messages ---
    TemplateTooLong = "template_too_long" => "this template is longer than {size}; templates are limited to {size}";
    TemplateLoops = "template_loops" => "this template loops more than {n} times; templates are limited to {n} loop iterations";
    TemplateOutput = "template_output" => "this template writes more than {size}; a template's output is limited to {size}";
    TemplateValue = "template_value" => "this template builds a value larger than {size} (with assign, capture or a filter); such values are limited to {size}";
    TemplateValues = "template_values" => "this template keeps more than {size} in assigned and captured values; they are limited to {size} in all";
    TemplateTime = "template_time" => "this template takes longer than {seconds} seconds to render; rendering is limited to {seconds} seconds";
    TemplateIncludes = "template_includes" => "this template nests includes more than {n} deep; includes are limited to {n} levels";
    // --- answers of a tenant's database ---
    PreviewTruncated = "preview_truncated" => "This preview is cut short to stay within {size}: values longer than {value_size} end with …, and later rows are not shown.";
    // --- cloud roles ---
    RoleArn = "role_arn" => "must be the ARN of an IAM role: arn:aws:iam::<12-digit account id>:role/<name>, e.g. arn:aws:iam::123456789012:role/hakobu-reader";
    AmbientRoleOff = "ambient_role_off" => "is turned off on this service: Hakobu's own cloud role reaches other organizations' data too. Give the ARN of a role in your AWS account for Hakobu to assume (assume_role with role_arn), or an access key pair";
}

impl MessageCode {
    /// The message with these values for its parts (none for a fixed sentence).
    pub fn with(self, name: &str, value: impl fmt::Display) -> Message {
        Message::from(self).with(name, value)
    }

    /// The English sentence of a message without parts.
    pub fn english(self) -> String {
        Message::from(self).english()
    }
}

/// A message of the catalogue with the values of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub code: MessageCode,
    pub params: MessageParams,
}

impl Message {
    /// Adds the value of the part `{name}`.
    pub fn with(mut self, name: &str, value: impl fmt::Display) -> Message {
        self.params.insert(name.to_owned(), value.to_string());
        self
    }

    /// The English sentence, parts filled.
    pub fn english(&self) -> String {
        fill_template(self.code.english_template(), &self.params)
    }
}

impl From<MessageCode> for Message {
    fn from(code: MessageCode) -> Self {
        Message {
            code,
            params: MessageParams::new(),
        }
    }
}

/// `template` with each `{name}` replaced by its value in `params`; parts without a value
/// stay as they are, so a missing param shows rather than vanishes.
pub fn fill_template(template: &str, params: &MessageParams) -> String {
    let mut out = template.to_owned();
    for (name, value) in params {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Words for a person: the English sentence as sent, and, when it is a message of the
/// catalogue, which one and with what parts, so a client can say it in another language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub english: String,
    pub message: Option<Message>,
}

impl Text {
    /// The message's code for the wire, when it has one.
    pub fn code(&self) -> Option<String> {
        self.message.as_ref().map(|m| m.code.code().to_owned())
    }

    /// The message's parts for the wire (empty without a code).
    pub fn params(&self) -> MessageParams {
        self.message
            .as_ref()
            .map(|m| m.params.clone())
            .unwrap_or_default()
    }

    /// What a client received: `english`, and the message its `code` and `params` name
    /// when this build knows the code.
    pub fn received(english: &str, code: Option<&str>, params: &MessageParams) -> Text {
        Text {
            english: english.to_owned(),
            message: code.and_then(MessageCode::from_code).map(|code| Message {
                code,
                params: params.clone(),
            }),
        }
    }
}

impl From<Message> for Text {
    fn from(message: Message) -> Self {
        Text {
            english: message.english(),
            message: Some(message),
        }
    }
}

impl From<MessageCode> for Text {
    fn from(code: MessageCode) -> Self {
        Message::from(code).into()
    }
}

/// A message outside the catalogue: English only.
impl From<String> for Text {
    fn from(english: String) -> Self {
        Text {
            english,
            message: None,
        }
    }
}

impl From<&str> for Text {
    fn from(english: &str) -> Self {
        english.to_owned().into()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.english)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn codes_are_unique_and_read_back() {
        let mut seen = BTreeSet::new();
        for &code in MessageCode::ALL {
            assert!(seen.insert(code.code()), "{code:?} repeats {}", code.code());
            assert_eq!(MessageCode::from_code(code.code()), Some(code));
        }
        assert_eq!(MessageCode::from_code("no_such_code"), None);
    }

    #[test]
    fn english_fills_the_parts() {
        assert_eq!(
            MessageCode::TooLong.with("n", 100).english(),
            "must be at most 100 characters"
        );
        assert_eq!(
            MessageCode::Forbidden
                .with("action", "rename the team")
                .english(),
            "Your role does not allow you to rename the team."
        );
        let text = Text::from(MessageCode::NamedNotFound.with("what", "team"));
        assert_eq!(text.english, "team not found");
        assert_eq!(text.code().as_deref(), Some("named_not_found"));
    }
}
