//! Every string of the UI, in English and Japanese.
//!
//! The table below is the only place UI text lives. Each entry is `Key => "English",
//! "日本語";`, so a key without both languages does not compile, and `Key::text` is one
//! exhaustive `match`. Placeholders are named (`{name}`) and filled with [`fill`]; a unit
//! test checks both languages use the same ones, and that Japanese text has no English
//! words left in it.
//!
//! Messages from the server and `core`'s validators come in English, and those of `core`'s
//! catalogue also with a stable code and the values of their parts: [`translate`] says
//! them in Japanese by code (see [`catalogue`]); no English wording is matched. A message
//! without a code (the engine's, a source database's) is shown as it came.
//!
//! `core`'s enums that pages name (roles, connection kinds, load modes, notification
//! events) are put in words here too, so pages share one wording without importing
//! each other.

use hakobu_core::api::notifications::NotificationEventKind;
use hakobu_core::authz::{OrgRole, TeamRole};
use hakobu_core::config::Mode;
use hakobu_core::connection::ConnectionKind;
use hakobu_core::messages::{Message, Text, fill_template};
use leptos::prelude::*;

mod catalogue;

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ja];

    /// The code stored in `localStorage` and put in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The BCP 47 locale for `Intl` date and number formatting.
    pub fn locale(self) -> &'static str {
        match self {
            Lang::En => "en-US",
            Lang::Ja => "ja-JP",
        }
    }

    /// The language for a browser language such as `ja-JP` or `en-GB`: Japanese for any
    /// Japanese variant, English otherwise.
    pub fn from_browser(language: &str) -> Lang {
        if language.to_ascii_lowercase().starts_with("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }
}

macro_rules! texts {
    ($($key:ident => $en:literal, $ja:literal;)*) => {
        /// A string of the UI.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Key { $($key,)* }

        impl Key {
            /// Every key, for the completeness tests.
            pub const ALL: &'static [Key] = &[$(Key::$key,)*];

            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (Key::$key, Lang::En) => $en,
                        (Key::$key, Lang::Ja) => $ja,
                    )*
                }
            }
        }
    };
}

texts! {
    // --- shell and navigation ---
    SkipToContent => "Skip to content", "本文へ移動";
    MainNavigation => "Main navigation", "メインナビゲーション";
    NavDashboard => "Dashboard", "ダッシュボード";
    NavTransfers => "Transfers", "データ転送";
    NavConnections => "Connections", "接続";
    NavJobs => "Jobs", "ジョブ";
    NavRuns => "Runs", "実行履歴";
    NavOrganization => "Organization", "組織";
    NavMembers => "Members", "メンバー";
    NavTeams => "Teams", "チーム";
    NavAudit => "Audit log", "監査ログ";
    NavYou => "You", "あなた";
    NavTokens => "API tokens", "API トークン";
    NavAccount => "Account", "アカウント";
    SignOut => "Sign out", "ログアウト";
    Language => "Language", "表示言語";
    TimesShownIn => "Times are shown in your time zone: {zone} ({id}).", "時刻はお使いのタイムゾーン（{zone}）で表示しています。";

    // --- common words ---
    Loading => "Loading…", "読み込み中…";
    Working => "Working…", "処理中…";
    Creating => "Creating…", "作成中…";
    TryAgain => "Try again", "再試行";
    Dismiss => "Dismiss", "閉じる";
    Cancel => "Cancel", "キャンセル";
    Copy => "Copy", "コピー";
    Copied => "Copied", "コピーしました";
    Remove => "Remove", "削除";
    Delete => "Delete", "削除する";
    Rename => "Rename", "名前を変更";
    Revoke => "Revoke", "無効にする";
    Withdraw => "Withdraw", "取り消す";
    ChangeRole => "Change role", "ロールを変更";
    Actions => "Actions", "操作";
    Name => "Name", "名前";
    Email => "Email", "メールアドレス";
    Password => "Password", "パスワード";
    Organization => "Organization", "組織";
    OrgRole => "Organization role", "組織でのロール";
    TeamRole => "Team role", "チームでのロール";
    Member => "Member", "メンバー";
    YourRole => "Your role", "あなたのロール";
    You => "(you)", "（あなた）";
    Created => "Created", "作成日時";
    Joined => "Joined", "参加日時";
    Expires => "Expires", "有効期限";
    LastUsed => "Last used", "最終使用";
    Status => "Status", "状態";
    Never => "Never", "なし";
    NotUsedYet => "Not used yet", "未使用";
    Active => "Active", "有効";
    Revoked => "Revoked", "無効化済み";
    Expired => "Expired", "期限切れ";
    System => "System", "システム";
    NetworkError => "Hakobu cannot be reached right now. Check your connection and try again.", "Hakobu に接続できません。ネットワーク接続を確認して、もう一度お試しください。";
    SomethingWentWrong => "Something went wrong while showing this page.", "このページの表示中に問題が発生しました。";

    // --- roles ---
    RoleOwner => "Owner", "オーナー";
    RoleAdmin => "Admin", "管理者";
    RoleMember => "Member", "メンバー";
    TeamRoleViewer => "Viewer", "閲覧者";
    TeamRoleOperator => "Operator", "実行者";
    TeamRoleEditor => "Editor", "編集者";
    TeamRoleAdmin => "Team admin", "チーム管理者";

    // --- sign in, sign up, invitations ---
    SignInTitle => "Sign in to Hakobu", "Hakobu にログイン";
    SignIn => "Sign in", "ログイン";
    SigningIn => "Signing in…", "ログイン中…";
    NoAccountYet => "New to Hakobu?", "はじめてご利用ですか？";
    InvitedHint => "Invited by a colleague? Open the link from your invitation instead.", "同僚から招待された場合は、招待リンクを開いてください。";
    SignUpTitle => "Create your organization", "組織を作成";
    SignUpLead => "You become its owner and can invite your colleagues afterwards.", "あなたが組織のオーナーになり、後から同僚を招待できます。";
    CreateOrganization => "Create an organization", "組織を作成する";
    OrganizationName => "Organization name", "組織名";
    OrganizationNameHint => "Usually your company or department, e.g. \"Acme Analytics\".", "会社名や部署名など（例：「株式会社サンプル 分析部」）。";
    YourName => "Your name", "お名前";
    PasswordHint => "At least 10 characters. A few words make a strong, memorable password.", "10 文字以上。いくつかの単語を組み合わせると、強くて覚えやすいパスワードになります。";
    HaveAccount => "Already have an account?", "アカウントをお持ちですか？";
    AcceptTitle => "Join your team on Hakobu", "Hakobu でチームに参加";
    LinkExpires => "Link valid until", "リンクの有効期限";
    ChoosePassword => "Choose a password", "パスワードを設定";
    JoinOrganization => "Create my account", "アカウントを作成";
    InvitationInvalidTitle => "This invitation link does not work", "この招待リンクは使えません";
    InvitationInvalid => "It was already used, withdrawn, or has expired. Ask the person who invited you for a new link.", "すでに使用済みか、取り消されたか、有効期限が切れています。招待した人に新しいリンクを依頼してください。";

    // --- dashboard ---
    Welcome => "Welcome, {name}.", "{name} さん、ようこそ。";
    SeeMembers => "See members", "メンバーを見る";
    SeeTeams => "See teams", "チームを見る";
    YourTeams => "Your teams", "所属チーム";
    NoTeamsYet => "You are not in any team yet. An administrator can add you to one.", "まだどのチームにも所属していません。管理者がチームに追加できます。";
    TransfersTitle => "Data transfers", "データ転送";

    // --- members and invitations ---
    MembersLead => "Everyone in your organization, and their role in it.", "組織のメンバーと、それぞれのロールです。";
    PeopleInOrganization => "People in the organization", "組織のメンバー";
    NoMembersTitle => "No members", "メンバーがいません";
    NoMembersBody => "Invite colleagues below.", "下のフォームから同僚を招待してください。";
    RoleOf => "Role of {name}", "{name} のロール";
    RoleIn => "Role in {team}", "{team} でのロール";
    ConfirmRoleChange => "Change {name} from {from} to {to}?", "{name} のロールを {from} から {to} に変更しますか？";
    ConfirmRemoveMember => "Remove {name} from the organization? Their sign-ins and API tokens stop working.", "{name} を組織から削除しますか？ログインと API トークンは使えなくなります。";
    OnlyAdminsRemove => "Only organization admins and owners can remove members.", "メンバーを削除できるのは組織の管理者とオーナーだけです。";
    CannotRemoveYourself => "You cannot remove yourself. Ask another admin.", "自分自身は削除できません。別の管理者に依頼してください。";
    OnlyOwnersRemoveOwners => "Only an owner can remove an owner.", "オーナーを削除できるのはオーナーだけです。";
    OnlyOwnersChangeOwners => "Only an owner can change an owner's role.", "オーナーのロールを変更できるのはオーナーだけです。";
    InviteTitle => "Invite a member", "メンバーを招待";
    InviteLead => "Hakobu does not send email yet: you get a link to pass on. It works once, for 7 days.", "Hakobu はまだメールを送信しません。表示されるリンクを招待する人に渡してください。リンクは 7 日間、1 回だけ使えます。";
    OnlyAdminsInvite => "Only organization admins and owners can invite members.", "メンバーを招待できるのは組織の管理者とオーナーだけです。";
    OrgRoleHint => "Members see the organization and their teams; admins also manage members, teams and the audit log.", "メンバーは組織と所属チームを閲覧できます。管理者はさらにメンバー・チーム・監査ログを管理できます。";
    AddToTeams => "Add to teams", "追加するチーム";
    NoTeamsToGrant => "There are no teams yet.", "まだチームがありません。";
    SendInvitation => "Create invitation link", "招待リンクを作成";
    InviteLink => "Invitation link", "招待リンク";
    InviteLinkWarning => "Copy it now and send it to the person you invited: it is shown only once.", "今すぐコピーして、招待する人に送ってください。このリンクは一度しか表示されません。";
    PendingInvitations => "Pending invitations", "保留中の招待";
    NoInvitationsTitle => "No pending invitations", "保留中の招待はありません";
    NoInvitationsBody => "Invitations appear here until they are accepted, withdrawn or expire.", "招待は、承諾・取り消し・期限切れになるまでここに表示されます。";
    ConfirmWithdraw => "Withdraw the invitation for {email}? The link stops working.", "{email} への招待を取り消しますか？リンクは使えなくなります。";
    OrganizationSettings => "Organization name", "組織名";
    RenameOrganization => "Rename", "名前を変更";
    Saved => "Saved.", "保存しました。";
    DeletedTeam => "(deleted team)", "（削除されたチーム）";

    // --- teams ---
    TeamsLeadAdmin => "Every team of the organization. Teams own connections and jobs; their members' roles decide who may see, run and edit them.", "組織のすべてのチームです。チームは接続とジョブを所有し、メンバーのロールによって閲覧・実行・編集できる範囲が決まります。";
    TeamsLeadMember => "The teams you belong to.", "あなたが所属しているチームです。";
    NoTeamsTitle => "No teams to show", "表示できるチームがありません";
    FirstTeamName => "Default", "デフォルト";
    NoTeamsBody => "You are not in any team yet. An administrator can add you to one.", "まだどのチームにも所属していません。管理者がチームに追加できます。";
    MemberCount => "Members", "メンバー数";
    CreateTeam => "Create a team", "チームを作成";
    TeamName => "Team name", "チーム名";
    OnlyAdminsCreateTeams => "Only organization admins and owners can create teams.", "チームを作成できるのは組織の管理者とオーナーだけです。";
    TeamMissingTitle => "Team not found", "チームが見つかりません";
    TeamMissingBody => "It may have been deleted, or you are not a member of it.", "削除されたか、あなたがメンバーではない可能性があります。";
    BackToTeams => "Back to teams", "チーム一覧に戻る";
    TeamSummary => "{n} members", "メンバー {n} 人";
    TeamSummaryOne => "1 member", "メンバー 1 人";
    TeamMembers => "Team members", "チームのメンバー";
    NoTeamMembersTitle => "Nobody is in this team yet", "このチームにはまだメンバーがいません";
    NoTeamMembersBody => "Add members below.", "下のフォームからメンバーを追加してください。";
    AddTeamMember => "Add a member", "メンバーを追加";
    ChooseMember => "Choose a member…", "メンバーを選択…";
    AddToTeam => "Add to team", "チームに追加";
    TeamRolesHint => "Viewers see names and statuses; operators also run jobs; editors also change connections and jobs; team admins also manage the team's members.", "閲覧者は名前と状態を見られます。実行者はさらにジョブを実行でき、編集者は接続とジョブを変更でき、チーム管理者はチームのメンバーを管理できます。";
    OnlyTeamAdminsManage => "Only this team's admins and organization admins can change its members and name.", "メンバーや名前を変更できるのは、このチームの管理者と組織の管理者だけです。";
    RenameTeam => "Rename the team", "チーム名を変更";
    DeleteTeam => "Delete the team", "チームを削除";
    DeleteTeamHint => "Its members stay in the organization; they just leave this team.", "メンバーは組織に残り、このチームから外れるだけです。";
    OnlyAdminsDeleteTeams => "Only organization admins and owners can delete teams.", "チームを削除できるのは組織の管理者とオーナーだけです。";
    ConfirmDeleteTeam => "Delete the team {team}? This cannot be undone.", "チーム {team} を削除しますか？元に戻せません。";
    RemoveFromTeam => "Remove from team", "チームから外す";
    ConfirmRemoveFromTeam => "Remove {name} from this team?", "{name} をこのチームから外しますか？";

    // --- API tokens ---
    TokensLead => "Tokens let scripts call the Hakobu API as you, with your permissions. Keep them secret like a password.", "トークンを使うと、スクリプトからあなたの権限で Hakobu の API を呼び出せます。パスワードと同じように秘密にしてください。";
    CreateToken => "Create a token", "トークンを作成";
    TokenName => "What is it for?", "用途";
    TokenNameHint => "A name you will recognise later, e.g. \"nightly export script\".", "後で見分けられる名前（例：「夜間エクスポート用スクリプト」）。";
    ExpiresInDays => "Expires after (days)", "有効期間（日数）";
    ExpiresInDaysHint => "Leave empty for a token that works until you revoke it.", "空欄にすると、無効にするまで使えるトークンになります。";
    RunConfig => "Config of this run", "この実行の設定";
    RunConfigHint => "The Embulk-style config this run executes, as fixed when it was dispatched; passwords and keys appear as references.", "この実行が使う Embulk 形式の設定（ディスパッチ時点で確定したもの）です。パスワードやキーは参照として表示されます。";
    ShowRunConfig => "Show the config", "設定を表示";
    TokenScope => "Access", "権限";
    TokenScopeFull => "Full: can change what you can change", "フル：あなたが変更できるものを変更できる";
    TokenScopeReadOnly => "Read-only: can look, never change", "読み取り専用：参照のみで、変更はできない";
    TokenScopeHint => "A read-only token is enough for dashboards and monitoring scripts, and does less harm if it leaks.", "ダッシュボードや監視用のスクリプトには読み取り専用で十分です。漏れたときの被害も小さくなります。";
    ScopeFull => "Full", "フル";
    ScopeReadOnly => "Read-only", "読み取り専用";
    NewToken => "Your new token", "新しいトークン";
    NewTokenWarning => "Copy it now: it is shown only once. Hakobu keeps only a fingerprint of it.", "今すぐコピーしてください。一度しか表示されません。Hakobu はトークンそのものを保存しません。";
    YourTokens => "Your tokens", "あなたのトークン";
    TokenPrefix => "Starts with", "先頭の文字";
    NoTokensTitle => "No tokens yet", "トークンはまだありません";
    NoTokensBody => "Create one above when a script needs to use the API.", "スクリプトから API を使うときに、上のフォームで作成してください。";
    ConfirmRevoke => "Revoke {name}? Scripts using it stop working at once.", "{name} を無効にしますか？使用中のスクリプトはすぐに動かなくなります。";

    // --- audit log ---
    AuditLead => "Every change that matters: who did what, and when.", "重要な変更の記録です。誰が、いつ、何をしたかを確認できます。";
    OnlyAdminsAudit => "Only organization admins and owners can read the audit log.", "監査ログを閲覧できるのは組織の管理者とオーナーだけです。";
    FilterAction => "Action", "操作";
    FilterActionHint => "e.g. team.create, or team for every team action", "例：team.create（team ですべてのチーム操作）";
    FilterTargetType => "Target type", "対象の種類";
    FilterTargetHint => "e.g. user, team, invitation", "例：user、team、invitation";
    From => "From", "開始日時";
    To => "Until", "終了日時";
    Anyone => "Anyone", "すべての人";
    ApplyFilters => "Apply filters", "絞り込む";
    ClearFilters => "Clear", "クリア";
    ExportCsv => "Export CSV", "CSV をダウンロード";
    When => "When", "日時";
    Who => "Who", "実行者";
    What => "What", "操作";
    Target => "Target", "対象";
    Details => "Details", "詳細";
    NoAuditTitle => "Nothing matches", "該当する記録はありません";
    NoAuditBody => "Try fewer filters or a wider time range.", "絞り込み条件を減らすか、期間を広げてください。";
    Pages => "Pages", "ページ";
    PageOf => "Page {page} of {pages} ({total} entries)", "{pages} ページ中 {page} ページ目（全 {total} 件）";
    PageOfMany => "Page {page} (more than {total} entries)", "{page} ページ目（{total} 件以上）";
    Previous => "Previous", "前へ";
    Next => "Next", "次へ";

    // --- account ---
    Profile => "Profile", "プロフィール";
    ChangePassword => "Change password", "パスワードを変更";
    ChangePasswordLead => "Changing your password signs you out everywhere else.", "パスワードを変更すると、ほかの端末ではログアウトされます。";
    CurrentPassword => "Current password", "現在のパスワード";
    NewPassword => "New password", "新しいパスワード";
    PasswordChanged => "Your password was changed. Other sessions were signed out.", "パスワードを変更しました。ほかのセッションはログアウトされました。";

    // --- not found ---
    NotFoundTitle => "Page not found", "ページが見つかりません";
    NotFoundBody => "The address may be mistyped, or the page has moved.", "アドレスが間違っているか、ページが移動した可能性があります。";
    BackToDashboard => "Go to the dashboard", "ダッシュボードへ";

    // --- audit actions (the server's action codes, in words) ---
    ActApiTokenCreate => "Created an API token", "API トークンを作成";
    ActApiTokenRevoke => "Revoked an API token", "API トークンを無効化";
    ActConnectionCreate => "Created a connection", "接続を作成";
    ActConnectionUpdate => "Changed a connection", "接続を変更";
    ActConnectionDelete => "Deleted a connection", "接続を削除";
    ActConnectionShare => "Shared a connection", "接続を共有";
    ActInvitationCreate => "Invited someone", "メンバーを招待";
    ActInvitationRevoke => "Withdrew an invitation", "招待を取り消し";
    ActInvitationAccept => "Accepted an invitation", "招待を承諾";
    ActJobCreate => "Created a job", "ジョブを作成";
    ActJobUpdate => "Changed a job", "ジョブを変更";
    ActJobDelete => "Deleted a job", "ジョブを削除";
    ActJobShare => "Shared a job", "ジョブを共有";
    ActJobEnable => "Enabled a job", "ジョブを有効化";
    ActJobDisable => "Disabled a job", "ジョブを無効化";
    ActJobDuplicate => "Duplicated a job", "ジョブを複製";
    ActJobImport => "Imported a job", "ジョブをインポート";
    ActMemberCreate => "Created an account", "アカウントを作成";
    ActMemberRoleChange => "Changed a member's role", "メンバーのロールを変更";
    ActMemberRemove => "Removed a member", "メンバーを削除";
    ActMemberPasswordChange => "Changed their password", "パスワードを変更";
    ActOrganizationCreate => "Created the organization", "組織を作成";
    ActOrganizationRename => "Renamed the organization", "組織名を変更";
    ActRunStart => "Started a run", "ジョブを実行";
    ActRunCancel => "Cancelled a run", "実行を中止";
    ActRunRerun => "Re-ran a run", "再実行";
    ActTeamCreate => "Created a team", "チームを作成";
    ActTeamRename => "Renamed a team", "チーム名を変更";
    ActTeamDelete => "Deleted a team", "チームを削除";
    ActTeamMemberAdd => "Added a team member", "チームにメンバーを追加";
    ActTeamMemberRoleChange => "Changed a team role", "チームでのロールを変更";
    ActTeamMemberRemove => "Removed a team member", "チームからメンバーを外す";

    // --- connections ---
    ConnectionsLead => "The databases and storage Hakobu reads from and writes to. Passwords and keys are stored encrypted and never shown again.", "Hakobu が読み書きするデータベースとストレージです。パスワードやキーは暗号化して保存され、二度と表示されません。";
    NewConnection => "New connection", "新しい接続";
    NoConnectionsTitle => "No connections yet", "接続はまだありません";
    NoConnectionsBody => "Add the database or storage your data comes from, and the one it goes to.", "データの取得元と送信先のデータベースやストレージを追加してください。";
    ConnectionKindLabel => "Kind", "種類";
    OwnerTeam => "Team", "チーム";
    OwnerTeamHint => "The team that owns it: its editors and admins manage it.", "所有するチームです。チームの編集者と管理者が管理できます。";
    Updated => "Updated", "更新日時";
    ConnectionMissingTitle => "Connection not found", "接続が見つかりません";
    ConnectionMissingBody => "It may have been deleted, or it is not shared with your teams.", "削除されたか、あなたのチームと共有されていない可能性があります。";
    BackToConnections => "Back to connections", "接続一覧に戻る";
    OnlyEditorsSeeSettings => "Only editors of this connection's team see its settings and can test it.", "接続の設定を閲覧・テストできるのは、所有チームの編集者だけです。";
    ConnectionFormLead => "Fill in what your database administrator gave you. Test the connection before saving to be sure it works.", "データベース管理者から受け取った情報を入力してください。保存する前に接続テストで動作を確認できます。";
    ConnectionName => "Connection name", "接続名";
    ConnectionNameHint => "A name your colleagues recognise, e.g. \"Shop database (read-only)\".", "同僚にも分かる名前（例：「ショップ DB（読み取り専用）」）。";
    KindPostgresql => "PostgreSQL", "PostgreSQL";
    KindMysql => "MySQL / MariaDB", "MySQL / MariaDB";
    KindS3 => "Amazon S3 or S3-compatible storage", "Amazon S3 または S3 互換ストレージ";
    KindLocalFiles => "Files on the Hakobu server", "Hakobu サーバー上のファイル";
    KindBigquery => "Google BigQuery", "Google BigQuery";
    KindSnowflake => "Snowflake", "Snowflake";
    FieldBqProject => "Project ID", "プロジェクト ID";
    FieldBqProjectHelp => "The Google Cloud project that runs the load jobs and holds the dataset, e.g. my-analytics-123.", "ロードジョブを実行し、データセットを持つ Google Cloud プロジェクト（例：my-analytics-123）。";
    FieldBqDataset => "Default dataset", "既定のデータセット";
    FieldBqDatasetHelp => "The dataset tables are loaded into when a job names none, e.g. raw. A job may name another dataset of the same project.", "ジョブがデータセットを指定しないときにテーブルを読み込むデータセット（例：raw）。ジョブでは同じプロジェクトの別のデータセットも指定できます。";
    FieldBqLocation => "Location", "ロケーション";
    FieldBqLocationHelp => "Where the load jobs run, e.g. US, EU or asia-northeast1. Leave empty to use the dataset's.", "ロードジョブを実行する場所（例：US、EU、asia-northeast1）。空欄ならデータセットの場所を使います。";
    FieldBqKey => "Service account key", "サービスアカウントキー";
    FieldBqKeyHelp => "The whole JSON key file of a service account, as downloaded. The account needs the roles BigQuery Data Editor on the dataset and BigQuery Job User on the project. Stored encrypted; nobody can read it back.", "ダウンロードしたままの、サービスアカウントの JSON キーファイル全体。このアカウントには、データセットに対する BigQuery データ編集者と、プロジェクトに対する BigQuery ジョブユーザーのロールが必要です。暗号化して保存され、誰も読み出せません。";
    FieldBqEndpoint => "API endpoint URL", "API エンドポイント URL";
    FieldBqEndpointHelp => "Only for a private endpoint (Private Service Connect): its URL, e.g. https://bigquery-p.example.com. Leave empty for Google's.", "プライベートエンドポイント（Private Service Connect）の場合のみ、その URL（例：https://bigquery-p.example.com）。Google のものを使うなら空欄にします。";
    FieldSfAccount => "Account identifier", "アカウント識別子";
    FieldSfAccountHelp => "Your Snowflake account as it appears in its URL before .snowflakecomputing.com, e.g. myorg-myaccount or xy12345.ap-northeast-1.aws.", "URL の .snowflakecomputing.com の前に現れる Snowflake アカウント（例：myorg-myaccount、xy12345.ap-northeast-1.aws）。";
    FieldSfUserHelp => "The Snowflake user Hakobu signs in as. It needs to create and write the destination tables.", "Hakobu がサインインする Snowflake ユーザー。転送先テーブルを作成・書き込みできる必要があります。";
    FieldSfPasswordHelp => "The user's password; leave empty when signing in with a private key below. Stored encrypted; nobody can read it back.", "ユーザーのパスワード。下の秘密鍵でサインインする場合は空欄にします。暗号化して保存され、誰も読み出せません。";
    FieldSfPrivateKey => "Private key", "秘密鍵";
    FieldSfPrivateKeyHelp => "For key-pair sign-in instead of a password: the whole text of the user's unencrypted RSA private key, from -----BEGIN PRIVATE KEY----- to its END line. Set its public key on the user (ALTER USER ... SET RSA_PUBLIC_KEY). Stored encrypted; nobody can read it back.", "パスワードの代わりにキーペアでサインインする場合：ユーザーの暗号化されていない RSA 秘密鍵の全文（-----BEGIN PRIVATE KEY----- から END の行まで）。公開鍵はユーザーに設定してください（ALTER USER ... SET RSA_PUBLIC_KEY）。暗号化して保存され、誰も読み出せません。";
    FieldSfWarehouse => "Warehouse", "ウェアハウス";
    FieldSfWarehouseHelp => "The virtual warehouse that runs the loads. Leave empty to use the user's default warehouse.", "ロードを実行する仮想ウェアハウス。空欄ならユーザーの既定のウェアハウスを使います。";
    FieldSfRole => "Role", "ロール";
    FieldSfRoleHelp => "The role Hakobu loads as. Leave empty to use the user's default role.", "Hakobu がロードに使うロール。空欄ならユーザーの既定のロールを使います。";
    FieldSfDatabaseHelp => "The database the tables are in.", "テーブルがあるデータベース。";
    FieldSfEndpointHelp => "Only for a private link address: its full URL, e.g. https://myorg-myaccount.privatelink.snowflakecomputing.com. Leave empty to use the account's public address.", "プライベートリンクのアドレスの場合のみ、その完全な URL（例：https://myorg-myaccount.privatelink.snowflakecomputing.com）。空欄ならアカウントの公開アドレスを使います。";
    FieldHost => "Host", "ホスト";
    FieldHostHelp => "The server's host name or IP address, without a scheme, e.g. db.example.com.", "サーバーのホスト名または IP アドレス（スキームなし。例：db.example.com）。";
    FieldPort => "Port", "ポート";
    FieldPortHelp => "The server's port.", "サーバーのポート番号です。";
    FieldDatabase => "Database", "データベース";
    FieldDatabaseHelp => "Name of the database to connect to.", "接続するデータベースの名前です。";
    FieldUser => "User", "ユーザー";
    FieldUserHelp => "The database user Hakobu signs in as. A read-only user is enough for a source.", "Hakobu がログインに使うデータベースユーザーです。取得元なら読み取り専用ユーザーで十分です。";
    FieldPasswordHelp => "Stored encrypted; nobody can read it back, not even admins.", "暗号化して保存され、管理者を含め誰も読み出せません。";
    FieldSchema => "Default schema", "既定のスキーマ";
    FieldSchemaHelp => "Schema used when a table name has none.", "テーブル名にスキーマがない場合に使うスキーマです。";
    FieldTls => "TLS", "TLS";
    FieldTlsHelp => "How the connection is encrypted. prefer: encrypt when the server offers it, otherwise connect unencrypted. require: always encrypt, without checking the server's certificate. verify-ca: encrypt and check that the certificate is signed by the CA below (or a public authority). verify-full: also check that the certificate names this host; use it over the internet. disable: never encrypt (only on a private network).", "接続をどう暗号化するか。優先：サーバーが対応していれば暗号化し、そうでなければ暗号化せずに接続します。必須：常に暗号化しますが、サーバー証明書は検証しません。CA 検証：暗号化し、証明書が下の認証局（または公的な認証局）に署名されていることを確認します。完全検証：さらに証明書がこのホスト名のものかも確認します。インターネット経由ではこれを使ってください。無効：暗号化しません（プライベートネットワーク内のみ）。";
    FieldCa => "CA certificate", "CA 証明書";
    FieldCaHelp => "PEM text of the authority that signed the server's certificate (used by verify-ca and verify-full), e.g. your cloud provider's RDS or Cloud SQL CA bundle. Leave empty to trust the public web authorities.", "サーバー証明書に署名した認証局の PEM テキスト（CA 検証・完全検証で使用）。例：クラウドの RDS や Cloud SQL の CA バンドル。空欄なら公的な認証局を信頼します。";
    FieldBucket => "Bucket", "バケット";
    FieldBucketHelp => "Name of the bucket, without s3://.", "バケット名（s3:// は付けない）。";
    FieldRegion => "Region", "リージョン";
    FieldRegionHelp => "The bucket's region, e.g. ap-northeast-1.", "バケットのリージョン（例：ap-northeast-1）。";
    FieldEndpoint => "Endpoint URL", "エンドポイント URL";
    FieldEndpointHelp => "Only for S3-compatible services (MinIO, Cloud Storage interoperability, ...): their URL, e.g. https://storage.example.com. Leave empty for AWS.", "S3 互換サービス（MinIO など）の場合のみ、その URL（例：https://storage.example.com）。AWS なら空欄にします。";
    FieldAuth => "Authentication", "認証方式";
    FieldAuthHelp => "access_key: a key pair below. assume_role: Hakobu assumes a role of your AWS account (below), proving with your organization's id as the external id that it acts for you. instance_role: Hakobu's own role, on single-tenant installs only.", "アクセスキー：下のキーの組を使います。ロールの引き受け：Hakobu があなたの AWS アカウントのロール（下記）を引き受けます。組織の ID を外部 ID として送り、あなたのために動いていることを示します。インスタンスロール：Hakobu 自身のロールで、単一テナントの環境でのみ使えます。";
    FieldRoleArn => "Role ARN", "ロール ARN";
    FieldRoleArnHelp => "The role Hakobu assumes to reach the bucket, e.g. arn:aws:iam::123456789012:role/hakobu-reader. Its trust policy must let Hakobu assume it with your organization's id as the external id.", "バケットへのアクセスに Hakobu が引き受けるロール（例：arn:aws:iam::123456789012:role/hakobu-reader）。その信頼ポリシーで、組織の ID を外部 ID とする Hakobu の引き受けを許可してください。";
    ExternalIdLabel => "External ID for your role's trust policy:", "ロールの信頼ポリシーに書く外部 ID：";
    ExternalIdHint => "Add the condition \"sts:ExternalId\" equal to this id to the role's trust policy, for the principal your Hakobu operator names. Hakobu sends it with every request to assume the role, so no other organization can use your role through Hakobu.", "ロールの信頼ポリシーに、Hakobu の運用者が示すプリンシパルについて、条件 \"sts:ExternalId\" がこの ID に等しいことを加えてください。Hakobu はロールを引き受けるたびにこの ID を送るため、他の組織が Hakobu を通してあなたのロールを使うことはできません。";
    FieldAccessKeyId => "Access key ID", "アクセスキー ID";
    FieldAccessKeyIdHelp => "The key ID, e.g. AKIA...", "キー ID（例：AKIA...）。";
    FieldSecretAccessKey => "Secret access key", "シークレットアクセスキー";
    FieldSecretAccessKeyHelp => "Stored encrypted; nobody can read it back.", "暗号化して保存され、誰も読み出せません。";
    FieldPathStyle => "Path-style addressing", "パス形式のアドレス指定";
    FieldPathStyleHelp => "Turn on for services that need bucket names in the path (most S3-compatible servers).", "バケット名をパスに含める必要があるサービス（多くの S3 互換サーバー）ではオンにします。";
    FieldDirectory => "Directory", "ディレクトリ";
    FieldDirectoryHelp => "A folder inside your organization's files folder on the Hakobu server, e.g. exports; . is the files folder itself. Paths starting with / or containing .. are refused.", "Hakobu サーバー上の組織のファイル用フォルダー内のフォルダー（例：exports）。. はファイル用フォルダーそのものです。/ で始まるパスや .. を含むパスは使えません。";
    FieldSshHost => "SSH bastion host", "SSH 踏み台ホスト";
    FieldSshHostHelp => "To reach a database in a private network, the host name or IP address of an SSH server (bastion) in that network that Hakobu signs in to; the database host above is then looked up and reached by the bastion. Leave empty to connect directly.", "プライベートネットワーク内のデータベースに接続する場合、そのネットワーク内にある SSH サーバー（踏み台）のホスト名または IP アドレス。上のデータベースホストは踏み台が名前解決して接続します。直接接続する場合は空欄にします。";
    FieldSshPort => "SSH port", "SSH ポート";
    FieldSshPortHelp => "The bastion's SSH port.", "踏み台の SSH ポート番号です。";
    FieldSshUser => "SSH user", "SSH ユーザー";
    FieldSshUserHelp => "The user Hakobu signs in to the bastion as. It needs only to forward TCP connections (no shell).", "Hakobu が踏み台にログインするユーザーです。TCP 転送ができれば十分です（シェルは不要）。";
    FieldSshKey => "SSH private key", "SSH 秘密鍵";
    FieldSshKeyHelp => "The private key Hakobu signs in with: ed25519 or RSA, the whole text of the key file from -----BEGIN OPENSSH PRIVATE KEY----- to its END line. Put its public key in the user's authorized_keys on the bastion. Stored encrypted; nobody can read it back.", "Hakobu がログインに使う秘密鍵（ed25519 または RSA）。鍵ファイルの全文（-----BEGIN の行から END の行まで）を貼り付け、公開鍵を踏み台のユーザーの authorized_keys に追加してください。暗号化して保存され、誰も読み出せません。";
    FieldSshPassphrase => "SSH key passphrase", "SSH 鍵のパスフレーズ";
    FieldSshPassphraseHelp => "Only when the private key is encrypted with a passphrase.", "秘密鍵がパスフレーズで暗号化されている場合のみ入力します。";
    FieldSshFingerprint => "SSH host key fingerprint", "SSH ホスト鍵のフィンガープリント";
    FieldSshFingerprintHelp => "The bastion's host key as ssh-keygen -l prints it (SHA256:...). Filled in by the first successful connection test; a bastion presenting another key is refused until an editor accepts the new key. You may also paste it from the bastion (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub).", "踏み台のホスト鍵（SHA256:...）。最初に接続テストが成功したときに記録されます。別の鍵を示す踏み台は、編集者が新しい鍵を承認するまで拒否されます。踏み台上で ssh-keygen -l を実行して確認した値を貼り付けることもできます。";
    SshHostKeySeen => "SSH bastion host key: {name}", "SSH 踏み台のホスト鍵：{name}";
    TestSshHostKeyChanged => "The SSH bastion presented another host key than the pinned one.", "SSH 踏み台が、記録済みとは別のホスト鍵を示しました。";
    TestSshHostKeyChangedHint => "Ask the bastion's administrator whether its host key was replaced. Only if the new fingerprint matches, accept the new host key.", "踏み台の管理者にホスト鍵を交換したか確認してください。新しいフィンガープリントが一致する場合に限り、新しいホスト鍵を承認してください。";
    TestSshSignIn => "The SSH bastion did not accept the private key.", "SSH 踏み台が秘密鍵を受け付けませんでした。";
    TestSshSignInHint => "Check the SSH user, the private key and its passphrase, and that its public key is in the user's authorized_keys on the bastion.", "SSH ユーザー、秘密鍵とパスフレーズ、公開鍵が踏み台のユーザーの authorized_keys にあることを確認してください。";
    AcceptHostKey => "Accept the new host key", "新しいホスト鍵を承認";
    TlsDisable => "disable: not encrypted", "無効：暗号化しない";
    TlsPrefer => "prefer: encrypted when the server offers it", "優先：サーバーが対応していれば暗号化";
    TlsRequire => "require: encrypted", "必須：暗号化する";
    TlsVerifyCa => "verify-ca: encrypted, authority checked", "CA 検証：暗号化し、認証局を検証";
    TlsVerifyFull => "verify-full: encrypted, certificate checked", "完全検証：暗号化し、証明書も検証する";
    AuthAccessKey => "access_key: a key pair", "アクセスキー：キーの組を使う";
    AuthAssumeRole => "assume_role: a role of your AWS account", "ロールの引き受け：あなたの AWS アカウントのロールを使う";
    AuthInstanceRole => "instance_role: Hakobu's own role (single-tenant installs)", "インスタンスロール：Hakobu 自身のロールを使う（単一テナント環境のみ）";
    WriteOnly => "write-only", "書き込み専用";
    SecretKept => "•••••• (stored)", "••••••（保存済み）";
    SecretKeptHint => "Leave empty to keep the stored value.", "空欄のままなら保存済みの値を使い続けます。";
    DefaultValue => "Default: {value}", "既定値：{value}";
    TestConnection => "Test connection", "接続テスト";
    Testing => "Testing…", "テスト中…";
    TestOk => "Connected in {ms} ms.", "接続できました（{ms} ミリ秒）。";
    TestOkVersion => "Connected in {ms} ms. Server: {version}", "接続できました（{ms} ミリ秒）。サーバー：{version}";
    TestFailed => "Could not connect.", "接続できませんでした。";
    TestUnreachable => "The server could not be reached.", "サーバーに到達できませんでした。";
    TestUnreachableHint => "Check the host and the port, and that the server accepts connections from Hakobu's address (firewall, security group).", "ホストとポートを確認し、サーバーが Hakobu のアドレスからの接続を受け付けているか（ファイアウォール、セキュリティグループ）確認してください。";
    TestTimeout => "The server did not answer in time.", "サーバーが時間内に応答しませんでした。";
    TestAuthentication => "The server refused the user name or password.", "サーバーがユーザー名またはパスワードを拒否しました。";
    TestAuthenticationHint => "Check the user and password; ask the database administrator whether this user may sign in from Hakobu's address.", "ユーザーとパスワードを確認してください。このユーザーが Hakobu のアドレスからログインできるか、データベース管理者に確認してください。";
    TestDatabaseMissing => "The database does not exist on the server.", "指定したデータベースがサーバーにありません。";
    TestDatabaseMissingHint => "Check the spelling of the database name; names can be case-sensitive.", "データベース名の綴りを確認してください。大文字と小文字が区別される場合があります。";
    TestPermission => "The user is not allowed to do this.", "このユーザーにはこの操作の権限がありません。";
    TestPermissionHint => "Ask the database administrator to grant this user access (CONNECT and SELECT for a source).", "このユーザーにアクセス権（取得元なら接続と参照）を付与するよう、データベース管理者に依頼してください。";
    TestTlsRequired => "The server accepts only encrypted connections.", "サーバーは暗号化された接続しか受け付けません。";
    TestTlsRequiredHint => "Set TLS to prefer, require or a verify mode.", "TLS を「優先」「必須」または検証モードにしてください。";
    TestRoleRefused => "AWS refused to let Hakobu assume the role.", "AWS が Hakobu によるロールの引き受けを拒否しました。";
    TestRoleRefusedHint => "Check that the role exists and that its trust policy allows Hakobu's service role to call sts:AssumeRole with the condition sts:ExternalId equal to your organization's id (shown in the form).", "ロールが存在し、その信頼ポリシーが Hakobu のサービスロールに、条件 sts:ExternalId が組織の ID（フォームに表示）に等しい場合の sts:AssumeRole を許可しているか確認してください。";
    TestRoleUnavailable => "Hakobu could not ask AWS to assume the role.", "Hakobu は AWS にロールの引き受けを依頼できませんでした。";
    TestRoleUnavailableHint => "Try again in a moment; if it keeps failing, tell the service's operator.", "しばらくしてからもう一度お試しください。続く場合はサービスの運用者に伝えてください。";
    TestAmbientRoleOff => "This connection uses Hakobu's own cloud role (instance_role), which is turned off on this service: it reaches other organizations' data too.", "この接続は Hakobu 自身のクラウドロール（インスタンスロール）を使いますが、このサービスでは無効です。他の組織のデータにも届くためです。";
    TestAmbientRoleOffHint => "Edit the connection: choose assume_role and give the ARN of a role in your AWS account, or give an access key pair.", "接続を編集し、「ロールの引き受け」を選んであなたの AWS アカウントのロールの ARN を指定するか、アクセスキーの組を指定してください。";
    TestOtherHint => "Check the settings; if they look right, show this message to the administrator of the server.", "設定を確認してください。正しいようであれば、このメッセージをサーバーの管理者に見せてください。";
    SaveConnection => "Save connection", "接続を保存";
    DeleteConnection => "Delete the connection", "接続を削除";
    DeleteConnectionHint => "Jobs that use it must be deleted or changed first.", "この接続を使うジョブは、先に削除または変更する必要があります。";
    ConfirmDeleteConnection => "Delete the connection {name}? This cannot be undone.", "接続 {name} を削除しますか？元に戻せません。";
    Sharing => "Sharing", "共有";
    SharingHint => "Other teams that may use it, and how: viewers see its name, operators run jobs with it, editors also change it.", "利用できる他のチームと、その権限です。閲覧者は名前を見られ、実行者はジョブで使え、編集者は変更もできます。";
    NotShared => "Not shared", "共有しない";
    NoOtherTeams => "There are no other teams to share with.", "共有できる他のチームはありません。";
    SaveSharing => "Save sharing", "共有設定を保存";

    // --- jobs ---
    JobsLead => "Each job copies rows from a source to a destination, the same way every run.", "ジョブは、取得元から送信先へ毎回同じ方法でデータを転送します。";
    NewJob => "New job", "新しいジョブ";
    ImportEmbulk => "Import an Embulk config", "Embulk の設定をインポート";
    NoJobsTitle => "No jobs yet", "ジョブはまだありません";
    NoJobsBody => "Create one in a few steps, with a preview of the rows.", "データをプレビューしながら、数ステップで作成できます。";
    Enabled => "Enabled", "有効";
    Disabled => "Disabled", "無効";
    Revision => "Revision", "版";
    RevisionN => "Revision {n}", "第 {n} 版";
    JobMissingTitle => "Job not found", "ジョブが見つかりません";
    JobMissingBody => "It may have been deleted, or it is not shared with your teams.", "削除されたか、あなたのチームと共有されていない可能性があります。";
    BackToJobs => "Back to jobs", "ジョブ一覧に戻る";
    RunNow => "Run now", "今すぐ実行";
    EnableToRun => "Enable the job to run it.", "実行するにはジョブを有効にしてください。";
    OnlyOperatorsRun => "Only operators, editors and admins of the job's team can run it.", "実行できるのは、ジョブのチームの実行者・編集者・管理者だけです。";
    EditJob => "Change settings", "設定を変更";
    Enable => "Enable", "有効にする";
    Disable => "Disable", "無効にする";
    DownloadConfig => "Download config", "設定ファイルをダウンロード";
    Settings => "Settings", "設定";
    OnlyEditorsSeeJobSettings => "Only editors of the job's team see its settings.", "設定を閲覧できるのは、ジョブのチームの編集者だけです。";
    RunHistory => "Run history", "実行履歴";
    Revisions => "Revisions", "版の履歴";
    NoRunsForJob => "This job has not run yet. Run it now, or wait for its schedule.", "このジョブはまだ実行されていません。今すぐ実行してください。";
    ChartDuration => "duration", "所要時間";
    ChartRows => "rows written", "書き込み行数";
    Job => "Job", "ジョブ";

    // --- job wizard ---
    JobWizardTitle => "Job settings", "ジョブの設定";
    EditJobTitle => "Change {name}", "{name} の設定を変更";
    WizardSteps => "Steps", "手順";
    StepSource => "Source", "取得元";
    StepColumns => "Preview and columns", "プレビューと列";
    StepDestination => "Destination", "送信先";
    StepRunSettings => "Run settings", "実行設定";
    StepReview => "Review and save", "確認して保存";
    StepOf => "Step {n}: {step}", "手順 {n}：{step}";
    Back => "Back", "戻る";
    SaveJob => "Save job", "ジョブを保存";
    NoConnectionsForJobTitle => "A job needs connections", "ジョブには接続が必要です";
    NoConnectionsForJobBody => "Create the connection rows come from and the one they go to, then come back.", "取得元と送信先の接続を作成してから、もう一度お試しください。";
    OnlyEditorsChangeJobs => "Only editors of the job's team can change its settings.", "設定を変更できるのは、ジョブのチームの編集者だけです。";
    SourceLead => "Where the rows come from: a table or a query of a database, or files in storage.", "データの取得元です。データベースのテーブルやクエリ、またはストレージのファイルを指定します。";
    SourceConnection => "Source connection", "取得元の接続";
    DestinationConnection => "Destination connection", "送信先の接続";
    ChooseConnection => "Choose a connection…", "接続を選択…";
    ReadFrom => "Read from", "読み込み方法";
    ReadTable => "A table", "テーブル";
    ReadTableHint => "every row of one table, optionally filtered", "1 つのテーブルの全行（絞り込みも可能）";
    ReadQuery => "A query", "クエリ";
    ReadQueryHint => "the rows a SELECT returns", "検索クエリの結果";
    Schema => "Schema", "スキーマ";
    DefaultSchema => "The connection's default", "接続の既定値";
    Table => "Table", "テーブル";
    ChooseTable => "Choose a table…", "テーブルを選択…";
    NoTablesFound => "No tables found; type the table's name.", "テーブルが見つかりません。テーブル名を入力してください。";
    SourceFilter => "Only rows where (optional)", "絞り込み条件（任意）";
    SourceFilterHint => "A condition in the database's SQL, e.g. status = 'paid'.", "データベースの条件式（例：status = 'paid'）。";
    SourceQuery => "Query", "クエリ";
    SourceQueryHint => "One SELECT (or WITH … SELECT) statement. It runs read-only.", "検索文を 1 つだけ書いてください。読み取り専用で実行されます。";
    Incremental => "Only new rows since the last successful run", "前回の成功以降の新しい行だけ";
    IncrementalHint => "Rows are ordered by the primary key; the next run starts after the last row loaded.", "主キーの順に読み込み、次回は前回読み込んだ最後の行の次から始めます。";
    PathPrefix => "Path prefix", "パスの接頭辞";
    PathPrefixHint => "Files whose path starts with this, e.g. exports/orders/.", "この文字列で始まるパスのファイル（例：exports/orders/）。";
    PathPattern => "Path pattern (optional)", "パスのパターン（任意）";
    PathPatternHint => "A regular expression the rest of the path must match, e.g. \\.csv$.", "残りのパスが一致すべき正規表現（例：\\.csv$）。";
    FileFormatLabel => "File format", "ファイル形式";
    Gzip => "The files are gzip-compressed", "ファイルは圧縮されている";
    HeaderLine => "The first line holds column names", "1 行目は列名";
    WriteHeaderLine => "Write column names on the first line", "1 行目に列名を書き込む";
    Delimiter => "Delimiter", "区切り文字";
    FileColumns => "Columns", "列";
    FileColumnsHint => "The columns of each row, in order, with their type.", "各行の列を、順番どおりに型とともに指定します。";
    ColumnName => "Column name", "列名";
    ColumnTypeLabel => "Type", "型";
    AddColumn => "Add a column", "列を追加";
    ColumnsLead => "The first rows of the source, and what happens to each column on the way: keep or drop, rename, change the type, mask.", "取得元の先頭の行と、各列の扱いです。残すか除くか、名前の変更、型の変更、マスクを指定できます。";
    PreviewRows => "First rows", "先頭の行";
    PreviewEmpty => "The source has no rows yet; the columns are shown below.", "取得元にはまだ行がありません。列は下に表示しています。";
    PreviewOnlyDatabases => "Previews are for database sources; the columns below are the ones you described.", "プレビューはデータベースの取得元でのみ使えます。下の列は指定した列です。";
    FilePreviewFromGuess => "The first rows of the file the guess read; the columns below are the ones you described.", "推測に使ったファイルの先頭の行です。下の列は指定した列です。";
    FindFiles => "Find files", "ファイルを探す";
    GuessColumns => "Guess columns", "列を推測";
    GuessColumnsHint => "Reads the first rows of the first matching file and fills in the format and the columns; adjust them afterwards.", "一致した最初のファイルの先頭の行を読み、形式と列を入力します。その後で調整できます。";
    FilesFound => "Matching files", "一致するファイル";
    NoFilesFound => "No file matches this prefix and pattern.", "このプレフィックスとパターンに一致するファイルはありません。";
    GuessedFrom => "Guessed from", "推測に使ったファイル";
    ColumnFormat => "Format (timestamps)", "形式（タイムスタンプ）";
    ColumnMapping => "Column changes", "列の変更";
    NoColumnsYet => "The columns appear here once the source is readable.", "取得元を読み込めると、ここに列が表示されます。";
    SourceColumn => "Source column", "取得元の列";
    Keep => "Keep", "残す";
    RenameTo => "Rename to", "新しい名前";
    CastTo => "Change type to", "型の変更";
    Mask => "Mask", "マスク";
    KeepColumn => "Keep {column}", "{column} を残す";
    RenameColumn => "New name for {column}", "{column} の新しい名前";
    CastColumn => "New type for {column}", "{column} の新しい型";
    MaskColumn => "Mask for {column}", "{column} のマスク";
    NoCast => "Keep the type", "型はそのまま";
    NoMask => "No mask", "マスクなし";
    MaskSha256 => "Hash (joins still work)", "ハッシュ化（結合は可能）";
    MaskPartial => "Hide the middle", "中央を隠す";
    OtherChangesKept => "{n} more changes of the saved job are kept as they are.", "保存済みジョブのその他の変更 {n} 件はそのまま残ります。";
    AddedColumns => "Added columns", "追加する列";
    AddedColumnsHint => "Columns with the same value in every row, e.g. the source system's name.", "すべての行に同じ値を入れる列（例：取得元システムの名前）。";
    ConstantValue => "Value", "値";
    AddConstantColumn => "Add a column with a fixed value", "固定値の列を追加";
    DestinationLead => "Where the rows go, and how they are written.", "データの送信先と書き込み方法です。";
    DestinationSchemaHint => "Leave empty for the connection's default schema.", "空欄なら接続の既定のスキーマを使います。";
    DestinationTable => "Destination table", "送信先のテーブル";
    DestinationTableHint => "An existing table, or a new name: Hakobu creates the table from the source's columns.", "既存のテーブル名、または新しい名前を入力します。新しい場合は取得元の列からテーブルを作成します。";
    DestPathPrefixHint => "Files are written under this path, e.g. exports/orders_.", "このパスの下にファイルを書き込みます（例：exports/orders_）。";
    LoadMode => "How rows are written", "書き込み方法";
    ModeInsert => "Add rows", "行を追加";
    ModeInsertHint => "Adds the new rows in one transaction: a failed run leaves the table as it was.", "新しい行を 1 つのトランザクションで追加します。失敗しても表は元のままです。";
    ModeInsertDirect => "Add rows directly", "行を直接追加";
    ModeInsertDirectHint => "Writes straight into the table, faster; a failed run leaves the rows loaded so far.", "表に直接書き込むので高速ですが、失敗するとそれまでの行が残ります。";
    ModeTruncateInsert => "Empty, then add", "空にしてから追加";
    ModeTruncateInsertHint => "Deletes every row of the table and adds the new ones, in one transaction.", "表の全行を削除して新しい行を追加します（1 つのトランザクション）。";
    ModeReplace => "Replace the table", "表を置き換え";
    ModeReplaceHint => "Builds a new table and swaps it in; the old table's definition is replaced too.", "新しい表を作って入れ替えます。古い表の定義も置き換わります。";
    ModeMerge => "Update or add", "更新または追加";
    ModeMergeHint => "Rows whose key exists are updated, others added, in one transaction.", "キーが一致する行は更新し、それ以外は追加します（1 つのトランザクション）。";
    ModeMergeDirect => "Update or add directly", "直接更新または追加";
    ModeMergeDirectHint => "Like update or add, batch by batch into the table; a failed run leaves what was written.", "更新または追加を、表に少しずつ直接行います。失敗するとそれまでの変更が残ります。";
    ModeDeleteInsert => "Delete, then insert", "削除してから挿入";
    ModeDeleteInsertHint => "Deletes the rows whose key columns match a new row (or that match a condition), then adds the new rows, in one transaction.", "新しい行とキー列が一致する行 (または条件に合う行) を削除してから新しい行を追加します。一つのトランザクションで行います。";
    JobKind => "Kind", "種類";
    JobKindTransfer => "Transfer", "転送";
    NewDataMart => "New data mart", "新しいデータマート";
    EditDataMart => "Change the data mart", "データマートを変更";
    CreateDataMart => "Create data mart", "データマートを作成";
    DataMartLead => "SQL on one database or data warehouse: run statements, or write a query's result into a table. Schedules and notifications are set on the job's page, as for transfers.", "一つのデータベースまたはデータウェアハウスで SQL を実行します。文を実行するか、クエリの結果を表に書き込みます。スケジュールと通知は転送と同じくジョブのページで設定します。";
    DataMartConnection => "Database or data warehouse", "データベースまたはデータウェアハウス";
    DataMartMode => "What to do", "実行内容";
    DataMartRunStatements => "Run the statements", "文を実行";
    DataMartStatementsHint => "All statements run in one transaction. On MySQL and MariaDB, DDL (CREATE, ALTER, DROP, TRUNCATE) commits by itself, so what ran before it cannot be rolled back.", "すべての文を一つのトランザクションで実行します。MySQL と MariaDB では DDL (CREATE、ALTER、DROP、TRUNCATE) が自動的にコミットするため、その前に実行した内容は取り消せません。";
    DataMartQueryHint => "One SELECT (or WITH) query; its result is written into the table in one transaction.", "SELECT (または WITH) クエリを一つ書きます。結果は一つのトランザクションで表に書き込まれます。";
    DataMartBigqueryStatementsHint => "BigQuery runs the statements as one script: it stops at the first failing statement and keeps what ran before it. Put DML between BEGIN TRANSACTION; and COMMIT TRANSACTION; to make it all-or-nothing.", "BigQuery は文を一つのスクリプトとして実行します。失敗した文で止まり、それまでに実行した内容は残ります。DML を BEGIN TRANSACTION; と COMMIT TRANSACTION; で囲むと、すべて反映されるか何も反映されないかのどちらかになります。";
    DataMartWarehouseQueryHint => "One SELECT (or WITH) query, run in the warehouse itself: its result is staged there first, then written into the table in one step, so a failure leaves the table as it was. Merge needs key columns.", "SELECT (または WITH) クエリを一つ書きます。クエリはデータウェアハウスの中で実行され、結果はまずそこに一時的に置かれてから一度に表へ書き込まれるため、失敗しても表は元のままです。マージにはキー列が必要です。";
    DataMartSql => "SQL", "SQL";
    DataMartTargetTable => "Target table", "書き込み先の表";
    DataMartDeleteBy => "Rows to replace", "置き換える行";
    DataMartDeleteByKeys => "Rows with the same key columns", "キー列が同じ行";
    DataMartDeleteByCondition => "Rows matching a condition (partition)", "条件に合う行 (パーティション)";
    DataMartKeys => "Key columns (comma separated)", "キー列 (カンマ区切り)";
    DataMartCondition => "Condition (WHERE on the target table)", "条件 (書き込み先の表の WHERE)";
    DataMartPreview => "Preview the query", "クエリをプレビュー";
    DataMartVariablesHint => "Write $name$ in the SQL, the condition or a check's query and define it here. A value goes in as a quoted text of the connection's SQL (unless you choose otherwise below), so it is never run as SQL. Built in: $run_id$, $job_name$, $scheduled_time$. Write $$ for a dollar sign.", "SQL・条件・チェックのクエリに $name$ と書き、ここで定義します。値は（下で別の書き方を選ばない限り）接続先の SQL の引用符付き文字列として埋め込まれるため、SQL として実行されることはありません。組み込み変数：$run_id$、$job_name$、$scheduled_time$。ドル記号そのものは $$ と書きます。";
    DataMartChecksHint => "Queries that run after the SQL and compare one value with the one you expect, e.g. the day's rows were written. A failing check fails the run (or only warns); what the SQL did stays.", "SQL の実行後に実行し、1 つの値を期待値と比べるクエリです（例：その日の行が書き込まれた）。失敗するとその実行は失敗になります（警告だけにもできます）。SQL が行った変更はそのまま残ります。";
    JobKindDataMart => "Data mart", "データマート";
    MergeKeys => "Key columns", "キー列";
    MergeKeysHint => "Columns that identify a row, separated by commas; empty means the primary key.", "行を特定する列をカンマ区切りで指定します。空欄なら主キーを使います。";
    RunSettingsLead => "What happens when a run takes too long, fails, or is due while another still runs.", "実行が長すぎる場合、失敗した場合、前の実行が続いている場合の扱いです。";
    TimeoutMinutes => "Stop after (minutes)", "打ち切りまでの時間（分）";
    ColumnsSideBySide => "Columns: what this job writes, and what the table has", "列：このジョブが書き込む列と、テーブルにある列";
    ColumnWritten => "Written by this job", "このジョブが書き込む列";
    ColumnInTable => "In the table", "テーブルの列";
    ColumnMissingInTable => "not in the table: loading fails unless the mode creates the table again (replace)", "テーブルにありません。テーブルを作り直すモード（replace）でない限り、ロードは失敗します";
    ColumnNotWritten => "not written by this job: left empty (NULL or the column's default)", "このジョブは書き込みません。空（NULL または列の既定値）になります";
    NewTableNote => "A new table: it is created from the columns this job writes.", "新しいテーブルです。このジョブが書き込む列から作成されます。";
    TaskSize => "Runner size", "ランナーのサイズ";
    TaskSizeHint => "CPU and memory of the container each run gets (the sizes AWS Fargate offers). Larger sizes move wide tables faster and cost more.", "各実行に割り当てるコンテナの CPU とメモリ（AWS Fargate で選べるサイズ）。大きいほど幅の広いテーブルを速く転送できますが、費用も増えます。";
    Cpu => "vCPU", "vCPU";
    MemoryMib => "Memory (MiB)", "メモリ（MiB）";
    TimeoutMinutesHint => "A run still going after this long is stopped and marked as timed out.", "この時間を過ぎても続いている実行は停止し、時間切れとします。";
    Retries => "Retries after a failure", "失敗時の再試行回数";
    RetriesHint => "From 0 to 10.", "0 から 10 まで。";
    Backoff => "Wait before the first retry (seconds)", "最初の再試行までの待ち時間（秒）";
    BackoffHint => "Doubles for each further retry.", "再試行のたびに 2 倍になります。";
    Overlap => "When a run is due while the previous one still runs", "前の実行が続いているときに次の実行が来たら";
    OverlapSkip => "Skip it", "実行しない";
    OverlapQueue => "Start it after the previous one ends", "前の実行の終了後に開始する";
    OverlapAllow => "Run both at once", "同時に実行する";
    Schedules => "Schedules", "スケジュール";
    NoSchedules => "No schedule: the job runs when someone runs it.", "スケジュールはありません。誰かが実行したときだけ動きます。";
    AddSchedule => "Add a schedule", "スケジュールを追加";
    ScheduleKind => "Repeat", "繰り返し";
    ScheduleDaily => "Every day", "毎日";
    ScheduleHourly => "Every hour", "毎時";
    ScheduleCron => "Cron expression", "クロン式";
    ScheduleTime => "Time", "時刻";
    ScheduleTimeHint => "24-hour clock, e.g. 02:00.", "24 時間表記（例：02:00）。";
    ScheduleMinute => "Minute of the hour", "実行する分";
    ScheduleExpression => "Expression", "式";
    ScheduleExpressionHint => "Five fields: minute, hour, day of month, month, day of week, e.g. 0 2 * * 1-5.", "分・時・日・月・曜日の 5 項目（例：0 2 * * 1-5）。";
    ScheduleTimezone => "Time zone", "タイムゾーン";
    ScheduleTimezoneHint => "An IANA name, e.g. Asia/Tokyo or UTC.", "IANA 形式の名前（例：Asia/Tokyo、UTC）。";
    NextFireTimes => "Next runs:", "次回の実行：";
    NeverFires => "This never fires.", "この設定では実行されません。";
    NextFire => "next run", "次回";
    ConfirmDeleteSchedule => "Remove this schedule?", "このスケジュールを削除しますか？";
    ScheduleWeekly => "Every week", "毎週";
    ScheduleMonthly => "Every month", "毎月";
    ScheduleWeekdays => "Days of the week", "曜日";
    ScheduleDayOfMonth => "Day of the month", "実行する日";
    ScheduleDayOfMonthHint => "1 to 31; a month without that day has no run.", "1〜31。その日がない月は実行しません。";
    ScheduleFixFields => "Correct the fields above to see the next runs.", "上の項目を直すと次回の実行日時が表示されます。";
    ScheduleN => "Schedule {n}", "スケジュール {n}";
    RemoveSchedule => "Remove this schedule", "このスケジュールを削除";
    AddAnotherSchedule => "Add a schedule", "スケジュールを追加";
    SchedulesWizardHint => "When the job runs by itself. Add none to run it only by hand; schedules can be changed later on the job's page.", "ジョブが自動で実行される日時です。手動でだけ実行する場合は追加しません。スケジュールは後からジョブのページで変更できます。";
    ScheduleSavedAlready => "Saved with the job; change or remove it on the job's page.", "ジョブと一緒に保存済みです。変更や削除はジョブのページで行います。";
    SchedulesOnJobPageEdit => "this job's schedules are listed and changed on its page.", "このジョブのスケジュールはジョブのページで確認・変更します。";
    ScheduleSaveFailed => "The job {name} was saved, but schedule {n} could not be saved: {reason}. Correct it in step 4 and save again (the job is not created twice), or remove the schedule and save.", "ジョブ {name} は保存されましたが、スケジュール {n} を保存できませんでした：{reason} 手順 4 で直してもう一度保存してください（ジョブが二重に作られることはありません）。または、そのスケジュールを削除して保存してください。";
    OpenSavedJob => "Open the saved job", "保存したジョブを開く";
    EveryHourAt => "Every hour at minute {minute}", "毎時 {minute} 分";
    EveryDayAt => "Every day at {time}", "毎日 {time}";
    EveryWeekAt => "Every {days} at {time}", "毎週 {days} {time}";
    EveryMonthAt => "Every month on day {day} at {time}", "毎月 {day} 日 {time}";
    CronAt => "Cron {expression}", "クロン式 {expression}";
    Monday => "Monday", "月曜";
    Tuesday => "Tuesday", "火曜";
    Wednesday => "Wednesday", "水曜";
    Thursday => "Thursday", "木曜";
    Friday => "Friday", "金曜";
    Saturday => "Saturday", "土曜";
    Sunday => "Sunday", "日曜";
    Variables => "Variables", "変数";
    DataChecks => "Data checks", "データチェック";
    ChecksHint => "Queries that run after the load and compare one value with the one you expect, e.g. no negative amounts. A failing check fails the run (or only warns); the loaded rows stay.", "転送後に実行し、1 つの値を期待値と比べるクエリです（例：金額が負の行がない）。失敗するとその実行は失敗になります（警告だけにもできます）。転送した行はそのまま残ります。";
    CheckN => "Check {n}", "チェック {n}";
    CheckName => "What it makes sure of", "確認する内容";
    CheckNameHint => "e.g. no negative amounts", "例：金額が負の行がない";
    CheckConnection => "Connection it runs on", "実行する接続";
    CheckSql => "Query returning one value", "1 つの値を返すクエリ";
    CheckOperatorLabel => "Passes when the value is", "合格の条件";
    CheckExpected => "Expected value", "期待値";
    CheckNullPasses => "No value (NULL) counts as a pass", "値がない場合（NULL）も合格とする";
    CheckWarnOnly => "Only warn when it fails; the run still succeeds", "失敗しても警告だけにする（実行は成功扱い）";
    AddCheck => "Add a check", "チェックを追加";
    RemoveCheck => "Remove this check", "このチェックを削除";
    Notifications => "Notifications", "通知";
    ReviewLead => "Name the job, check what it will do, and save. Saving makes a new revision; runs already started keep theirs.", "ジョブに名前を付け、内容を確認して保存します。保存すると新しい版になり、開始済みの実行は元の版のまま動きます。";
    JobName => "Job name", "ジョブ名";
    JobNameHint => "e.g. \"Orders to the warehouse, nightly\".", "例：「注文データを分析基盤へ（毎晩）」。";
    Description => "Description (optional)", "説明（任意）";
    DescriptionHint => "What the job is for, for whoever reads it next.", "このジョブの目的を、次に読む人のために書いてください。";
    Summary => "Summary", "概要";
    ChangesAndMasks => "{changes} column changes, {masks} masks", "列の変更 {changes} 件、マスク {masks} 件";
    CompiledConfig => "Compiled config", "生成される設定";
    CompiledConfigHint => "What a run executes, compiled from these settings. Passwords appear as references, never in clear.", "この設定から生成される、実行時の設定ファイルです。パスワードは参照として表示され、平文では出ません。";
    CompiledAfterSave => "The compiled config is shown once you may see both connections' settings.", "両方の接続の設定を閲覧できる場合に表示されます。";

    // --- import ---
    ImportLead => "Paste a config.yml from Embulk. Hakobu creates the job, and the connections it needs (reusing equal ones).", "Embulk の設定ファイルを貼り付けてください。ジョブと必要な接続（同じものは再利用）を作成します。";
    EmbulkConfig => "Embulk config", "Embulk の設定";
    EmbulkConfigHint => "The YAML text; a Liquid template works too.", "設定の本文です。テンプレート形式でも構いません。";
    EnvValues => "Values for the template (optional)", "テンプレートの値（任意）";
    EnvValuesHint => "One NAME=value per line, for each env.NAME in the template.", "テンプレート内の変数ごとに、1 行に 1 つずつ指定します。";
    ImportButton => "Import", "インポート";

    // --- runs ---
    RunsLead => "Every run of the jobs you can see, newest first.", "閲覧できるジョブのすべての実行です（新しい順）。";
    Run => "Run", "実行";
    RunTitle => "Run", "実行";
    AllStatuses => "All statuses", "すべての状態";
    NoRunsTitle => "No runs yet", "実行はまだありません";
    NoRunsBody => "Runs appear here when a job runs.", "ジョブが実行されると、ここに表示されます。";
    NoRunsDashboard => "Create a job and run it: its progress shows up here.", "ジョブを作成して実行すると、進み具合がここに表示されます。";
    Queued => "Queued", "受付日時";
    Started => "Started", "開始日時";
    Finished => "Finished", "終了日時";
    NotYet => "Not yet", "まだです";
    Duration => "Duration", "所要時間";
    RowsWritten => "Rows written", "書き込み行数";
    DurationSeconds => "{s} s", "{s} 秒";
    DurationMinutes => "{m} min {s} s", "{m} 分 {s} 秒";
    DurationHours => "{h} h {m} min", "{h} 時間 {m} 分";
    StatusQueued => "queued", "待機中";
    StatusStarting => "starting", "開始中";
    StatusRunning => "running", "実行中";
    StatusSucceeded => "succeeded", "成功";
    StatusFailed => "failed", "失敗";
    StatusCancelled => "cancelled", "中止";
    StatusTimedOut => "timed out", "時間切れ";
    RunMissingTitle => "Run not found", "実行が見つかりません";
    RunMissingBody => "It may belong to a job you cannot see.", "閲覧できないジョブの実行である可能性があります。";
    BackToRuns => "Back to runs", "実行履歴に戻る";
    Live => "live", "ライブ";
    Rerun => "Run again", "再実行";
    CancelRun => "Cancel the run", "実行を中止";
    ConfirmCancelRun => "Cancel this run? Rows written so far are rolled back where the mode allows.", "この実行を中止しますか？書き込み方法が対応していれば、書き込んだ行は取り消されます。";
    Progress => "Progress", "進み具合";
    RowsReadN => "{n} rows read", "読み込み {n} 行";
    RowsWrittenN => "{n} rows written", "書き込み {n} 行";
    RowsSkippedN => "{n} rows skipped", "スキップ {n} 行";
    HeldByItsJob => "waits for earlier runs of its job (the job's overlap setting or its limit of runs at once)", "同じジョブの前の実行の終了を待っています（ジョブの重複実行の設定または同時実行数の上限）";
    BytesReadWritten => "{r} read, {w} written", "読み込み {r}、書き込み {w}";
    RowsPerSecond => "{n} rows/s", "毎秒 {n} 行";
    PercentDone => "{n}% done", "{n}% 完了";
    PercentDoneAbout => "about {n}% done (from the table's statistics)", "約 {n}% 完了（テーブル統計から推定）";
    TimeLeft => "about {t} left", "残り約 {t}";
    Attempt => "Attempt", "試行";
    Trigger => "Started by", "起動方法";
    TriggerManual => "Run now", "手動実行";
    TriggerRerun => "Run again", "再実行";
    TriggerRetry => "Automatic retry", "自動再試行";
    TriggerSchedule => "Schedule", "スケジュール";
    TriggerApi => "API", "API";
    TriggerWorkflow => "Workflow", "ワークフロー";
    JobRevisionLabel => "Job revision", "ジョブの版";
    QueuePosition => "Place in the queue", "待ち順";
    RunsAhead => "{n} runs ahead", "前に {n} 件";
    WhatWentWrong => "What went wrong", "失敗の原因";
    ErrorNextSteps => "Fix the cause (the settings, or the data named above), then run the job again. Nothing was half-written: transactional modes leave the destination as it was.", "原因（設定、または上に示したデータ）を直してから、もう一度実行してください。トランザクション方式の書き込みなら、送信先は元のままです。";
    ResolvedVariables => "Variables of this run", "この実行の変数";
    Log => "Log", "ログ";
    NoLogYet => "No log lines yet.", "ログはまだありません。";

    // --- dashboard ---
    RunningNow => "Running now", "実行中";
    QueuedNow => "Waiting in the queue", "待機中";
    FailedLastDay => "Failed in the last 24 hours", "直近 24 時間の失敗";
    RecentRuns => "Recent runs", "最近の実行";
    SeeRuns => "See runs", "実行履歴を見る";

    // --- #8 analyst pages ---
    // Wizard step 4: variables.
    VariablesHint => "Write $name$ in any text setting (table names, paths, queries, filters, checks) and define it here. Built in: $run_id$, $job_name$, $scheduled_time$. Write $$ for a dollar sign.", "テーブル名・パス・クエリ・条件・チェックなどの文字列に $name$ と書き、ここで定義します。組み込み変数：$run_id$、$job_name$、$scheduled_time$。ドル記号そのものは $$ と書きます。";
    VariableN => "Variable {n}", "変数 {n}";
    VariableName => "Variable name", "変数名";
    VariableNameHint => "Letters, digits and _, e.g. target_date; written as $target_date$.", "英数字と _ で指定します（例：target_date）。設定では $target_date$ と書きます。";
    VariableKind => "Value comes from", "値の決め方";
    VarKindString => "Fixed text", "固定の文字列";
    VarKindTimestamp => "The run's date and time", "実行の日時";
    VarKindQuery => "A SQL query", "SQL クエリ";
    VariableText => "Text", "文字列";
    VarBase => "Starting from", "基準";
    VarBaseScheduled => "When the run was due (its schedule time, or its \"as of\")", "実行予定の日時（スケジュールの時刻、または基準日時の指定）";
    VarBaseStart => "When the run actually started", "実際に開始した日時";
    VarOffsetQuantity => "Move by", "ずらす量";
    VarOffsetQuantityHint => "0 or empty: no move.", "0 または空欄ならずらしません。";
    VarOffsetUnit => "Unit", "単位";
    VarOffsetDirection => "Direction", "向き";
    UnitMinute => "minutes", "分";
    UnitHour => "hours", "時間";
    UnitDay => "days", "日";
    UnitWeek => "weeks", "週";
    UnitMonth => "months", "か月";
    DirectionAgo => "earlier", "前";
    DirectionLater => "later", "後";
    VarFormat => "Format", "書式";
    VarFormatHint => "strftime codes: %Y year, %m month, %d day, %H hour, %M minute; e.g. %Y-%m-%d or %Y%m%d.", "strftime の記号で指定します：%Y 年、%m 月、%d 日、%H 時、%M 分。例：%Y-%m-%d、%Y%m%d。";
    VarTimezone => "Time zone", "タイムゾーン";
    VarTimezoneHint => "IANA name, e.g. Asia/Tokyo or UTC.", "IANA の名前で指定します（例：Asia/Tokyo、UTC）。";
    VarQueryConnection => "Connection the query runs on", "クエリを実行する接続";
    VarSql => "Query", "クエリ";
    VarSqlHint => "One SELECT returning one value; it may use the other variables.", "値を 1 つ返す SELECT 文を 1 つ書きます。ほかの変数も使えます。";
    VarTimeout => "Time limit (seconds)", "制限時間（秒）";
    VarInSql => "In SQL settings, written as", "SQL の中での書き方";
    InSqlLiteral => "a quoted value, e.g. '2026-11-21'", "引用符付きの値（例：'2026-11-21'）";
    InSqlIdentifier => "a quoted table or column name, e.g. \"sales_202611\"", "引用符付きのテーブル名・列名（例：\"sales_202611\"）";
    InSqlRaw => "as it is (only for values editors control)", "そのまま（編集者が管理する値に限る）";
    VarExample => "Example, for a run due now:", "今実行した場合の例：";
    VarExampleQuery => "The query runs when the run starts; its value shows on the run's page.", "クエリは実行の開始時に実行され、値は実行のページに表示されます。";
    VarExampleInvalid => "No example until the fields above are valid.", "上の項目が正しく入力されると例が表示されます。";
    AddVariable => "Add a variable", "変数を追加";
    RemoveVariable => "Remove this variable", "この変数を削除";
    SchedulesOnJobPage => "set them on the job's page once it is saved.", "保存後にジョブのページで設定します。";
    // Wizard step 4: notification rules.
    RulesHint => "Send a message when something happens to this job's runs. Rules are saved with the job.", "このジョブの実行で何かが起きたときにメッセージを送ります。ルールはジョブと一緒に保存されます。";
    NoDestinations => "No notification destinations yet: an administrator adds them (Slack, email or a webhook) before rules can use them.", "通知先がまだありません。ルールを作る前に、管理者が通知先（Slack、メール、Webhook）を追加する必要があります。";
    RuleN => "Rule {n}", "ルール {n}";
    RuleDestination => "Send to", "送信先";
    ChooseDestination => "Choose a destination", "通知先を選んでください";
    RuleEvent => "When", "条件";
    EventSuccess => "a run succeeds", "実行が成功したとき";
    EventFailure => "a run fails (no retry left)", "実行が失敗したとき（再試行なし）";
    EventRowsBelow => "a run writes fewer rows than the threshold", "書き込み行数がしきい値より少ないとき";
    EventRowsAbove => "a run writes more rows than the threshold", "書き込み行数がしきい値より多いとき";
    EventDurationOver => "a run takes longer than the threshold (seconds)", "実行がしきい値（秒）より長くかかったとき";
    EventCheckFailed => "a data check fails", "データチェックが失敗したとき";
    EventCheckWarned => "a data check warns", "データチェックが警告を出したとき";
    EventScheduleDisabled => "a schedule turns itself off after repeated failures", "失敗が続いてスケジュールが自動で停止したとき";
    RuleThreshold => "Threshold", "しきい値";
    RuleThresholdHint => "Rows for the row conditions, seconds for the duration.", "行数の条件では行数、時間の条件では秒数です。";
    RuleSubject => "Email subject (optional)", "メールの件名（任意）";
    RuleTemplate => "Message (optional)", "メッセージ（任意）";
    RuleTemplateHint => "Empty: the default message, which names the job, the run's status and rows. A template may use job_name, status, rows, duration, error and variables.NAME.", "空欄なら既定のメッセージ（ジョブ名・状態・行数）を送ります。テンプレートでは job_name、status、rows、duration、error、variables.NAME が使えます。";
    RuleMentions => "Slack mentions (optional)", "Slack のメンション（任意）";
    RuleMentionsHint => "Member or group ids separated by commas, or here / channel.", "メンバーまたはグループの ID をカンマ区切りで、または here / channel。";
    RuleEnabled => "On", "有効";
    AddRule => "Add a notification rule", "通知ルールを追加";
    RemoveRule => "Remove this rule", "このルールを削除";
    RulesSaveProblem => "The job was saved, but a notification rule was not: fix it and save again.", "ジョブは保存しましたが、通知ルールを保存できませんでした。直してからもう一度保存してください。";
    RuleSubjectHint => "Email only. Empty: a subject naming the job and the run's status. The same names as the message may be used.", "メールのみ。空欄ならジョブ名と実行の状態を件名にします。メッセージと同じ名前が使えます。";
    // Job page: the job's notification rules.
    JobRulesLead => "Messages sent when something happens to this job's runs. Without a rule of its own for an event, the organization's default rules apply.", "このジョブの実行で何かが起きたときに送るメッセージです。あるイベントについてジョブ独自のルールがなければ、組織の既定のルールが適用されます。";
    NoJobRules => "This job has no notification rules of its own.", "このジョブ独自の通知ルールはありません。";
    WorkflowRulesLead => "Messages sent when a run of this workflow succeeds or fails.", "このワークフローの実行が成功または失敗したときに送るメッセージです。";
    NoWorkflowRules => "This workflow has no notification rules.", "このワークフローには通知ルールがありません。";
    WorkflowOverlapHint => "What a schedule's fire time does while a run of the workflow is still going. Run now always starts a run.", "ワークフローの実行が続いている間にスケジュールの時刻が来たときの動作です。「今すぐ実行」は常に実行を開始します。";
    WorkflowOverlapAllowNote => "A fire time while a run is still going starts another run.", "実行中にスケジュールの時刻が来ると、もう一つ実行を開始します。";
    WorkflowOverlapSkipNote => "A fire time while a run is still going is skipped.", "実行中にスケジュールの時刻が来た場合は実行しません。";
    EditRules => "Change notification rules", "通知ルールを変更";
    SaveRules => "Save notification rules", "通知ルールを保存";
    JobRulesFormHint => "Added, changed and removed rules take effect when you save.", "追加・変更・削除したルールは、保存したときに反映されます。";
    OnlyEditorsChangeRules => "Only editors of the job's team can change its notification rules.", "通知ルールを変更できるのは、ジョブのチームの編集者だけです。";
    OnlyEditorsSeeRevisions => "Only editors of the job's team see its revisions.", "版の履歴を閲覧できるのは、ジョブのチームの編集者だけです。";
    BackfillValuesHint => "The same values are used by every run of the backfill. Empty: computed as usual for each run.", "過去分の実行のすべての回で同じ値を使います。空欄なら回ごとに通常どおり計算します。";
    // Run page.
    RunAsOf => "As of", "基準日時";
    ValueGiven => "given for this run", "この実行で指定";
    VariablesFixedAtStart => "Values are fixed when the run starts.", "値は実行の開始時に決まります。";
    CheckResults => "Data checks", "データチェック";
    NoCheckResults => "No check results for this run.", "この実行のチェック結果はありません。";
    ChecksAfterLoad => "Checks run after the load; their results appear here.", "チェックは書き込みの後に実行され、結果がここに表示されます。";
    CheckOutcomePassed => "passed", "合格";
    CheckOutcomeFailed => "failed", "不合格";
    CheckOutcomeWarned => "warned", "警告";
    CheckColumn => "Check", "チェック";
    CheckResultColumn => "Result", "結果";
    CheckValueColumn => "Value", "値";
    CheckExpectedColumn => "Expected", "期待値";
    RunNotifications => "Notifications sent", "送信した通知";
    NoRunNotifications => "No notifications for this run.", "この実行の通知はありません。";
    EventColumn => "Event", "出来事";
    DestinationColumn => "Destination", "通知先";
    DeliveryColumn => "Delivery", "配信";
    DeliveryPending => "waiting", "送信待ち";
    DeliveryDelivered => "delivered", "配信済み";
    DeliveryFailed => "failed", "失敗";
    DeliverySkipped => "skipped (email not confirmed)", "未送信（メール未確認）";
    AttemptsN => "{n} attempts", "{n} 回試行";
    TriggerBackfill => "Backfill", "過去分の実行";
    ErrorDetail => "Details", "詳細";
    PlainErrConnect => "Hakobu could not reach a database or storage: it is down, or the host, port or network rules keep Hakobu out.", "データベースまたはストレージに接続できませんでした。停止しているか、ホスト・ポート・ネットワークの設定で接続できない状態です。";
    PlainErrAuth => "A connection's user name or password was refused.", "接続のユーザー名またはパスワードが拒否されました。";
    PlainErrMissing => "A table, column or file the job uses does not exist (check names built from variables too).", "ジョブが使うテーブル・列・ファイルが存在しません（変数から作られる名前も確認してください）。";
    PlainErrPermission => "The database user may not read or write what the job needs.", "データベースのユーザーに、必要な読み書きの権限がありません。";
    PlainErrCheck => "The rows were loaded, but a data check did not pass.", "データは書き込まれましたが、データチェックが不合格でした。";
    PlainErrTimeout => "The run took longer than the job's time limit and was stopped.", "実行がジョブの制限時間を超えたため停止しました。";
    PlainErrVariable => "A variable could not be computed or used.", "変数の値を計算できないか、使えませんでした。";
    PlainErrCancelled => "Someone cancelled the run.", "実行は中止されました。";
    PlainErrData => "A value in the data did not fit its column (type, length or a constraint).", "データの値が列に合いませんでした（型・長さ・制約）。";
    PlainErrOther => "The run stopped with the error below.", "以下のエラーで実行が止まりました。";
    // Job page: run with options, backfill.
    RunWithOptions => "Run with options…", "条件を指定して実行…";
    RunOptionsTitle => "Run with options", "条件を指定して実行";
    RunOptionsLead => "Run once as if it were due at another time (timestamp variables follow it), or give variables values of your own.", "別の日時に予定されていたものとして 1 回実行します（日時の変数はそれに従います）。変数に値を指定することもできます。";
    AsOf => "As of (your time zone)", "基準日時（あなたのタイムゾーン）";
    AsOfHint => "Empty: now.", "空欄なら現在です。";
    VariableOverrideHint => "Empty: computed as usual.", "空欄なら通常どおり計算します。";
    OverridesText => "Variable values (optional)", "変数の値（任意）";
    OverridesTextHint => "One name=value per line.", "1 行に 1 つ、名前=値 の形で書きます。";
    StartRun => "Start the run", "実行を開始";
    Close => "Close", "閉じる";
    Backfill => "Backfill…", "過去分を実行…";
    BackfillLead => "Run the job once per day or hour of a past range, each run as of the start of its period.", "過去の期間について、1 日または 1 時間ごとに 1 回ずつ実行します。各実行の基準日時はその区間の開始時刻です。";
    BackfillFrom => "From (first period)", "開始（最初の区間）";
    BackfillTo => "To (last period, included)", "終了（最後の区間を含む）";
    BackfillStep => "One run per", "実行の単位";
    StepDayOption => "day", "1 日ごと";
    StepHourOption => "hour", "1 時間ごと";
    BackfillParallelism => "Runs at once", "同時に実行する数";
    BackfillParallelismHint => "1 runs them one after another, oldest first; at most 10.", "1 なら古い順に 1 つずつ実行します。最大 10 です。";
    BackfillCount => "This queues {n} runs.", "{n} 件の実行を登録します。";
    QueueBackfill => "Queue the runs", "実行を登録";
    BackfillQueued => "{n} runs queued.", "{n} 件の実行を登録しました。";
    // English says "1 run"; Japanese has no plural, so the same sentence with 1.
    BackfillCountOne => "This queues 1 run.", "1 件の実行を登録します。";
    BackfillQueuedOne => "1 run queued.", "1 件の実行を登録しました。";
    // Password reset.
    ForgotPassword => "Forgot your password?", "パスワードをお忘れですか？";
    ForgotTitle => "Reset your password", "パスワードの再設定";
    ForgotLead => "Enter your account's email address. We send a link to choose a new password; it works once, within 60 minutes.", "アカウントのメールアドレスを入力してください。新しいパスワードを設定するリンクを送ります。リンクは 60 分以内に 1 回だけ使えます。";
    SendResetLink => "Send the link", "リンクを送信";
    ResetLinkSent => "If an account uses this address, a link is on its way. Check your inbox, and the spam folder too.", "このアドレスのアカウントがあれば、リンクを送信しました。受信トレイと迷惑メールフォルダーを確認してください。";
    BackToSignIn => "Back to sign in", "ログインに戻る";
    NewPasswordTitle => "Choose a new password", "新しいパスワードの設定";
    NewPasswordLead => "Every session of the account ends; then sign in with the new password.", "アカウントのすべてのセッションが終了します。その後、新しいパスワードでログインしてください。";
    SetNewPassword => "Set the new password", "新しいパスワードを設定";
    PasswordResetDone => "Your password is changed. Sign in with the new one.", "パスワードを変更しました。新しいパスワードでログインしてください。";
    AskNewLink => "Ask for a new link", "新しいリンクを依頼する";

    // --- #9 admin pages ---
    NavNotifications => "Notifications", "通知";
    NavSchedules => "Schedules", "スケジュール";
    NavQueue => "Queue", "実行キュー";
    NotificationsLead => "Where Hakobu sends messages about runs, and the rules every job follows unless it has its own.", "実行についての通知の送信先と、独自のルールがないすべてのジョブに適用される既定のルールです。";
    Destinations => "Destinations", "送信先";
    NoDestinationsTitle => "No destinations yet", "送信先はまだありません";
    NoDestinationsBody => "Add a Slack channel, an email address or a webhook, then choose when to notify it.", "Slack チャンネル、メールアドレス、または Webhook を追加してから、通知するタイミングを選んでください。";
    DestinationKindLabel => "Kind", "種類";
    DestinationWhere => "Sends to", "送信先の詳細";
    KindSlack => "Slack", "Slack";
    KindEmail => "Email", "メール";
    KindWebhook => "Webhook", "Webhook";
    SlackUrlStored => "Webhook URL stored (not shown)", "Webhook URL は保存済み（表示しません）";
    HeaderCount => "headers: {n}", "ヘッダー {n} 件";
    AddressConfirmed => "Confirmed", "確認済み";
    DestinationReady => "Ready", "利用可能";
    AwaitingConfirmation => "Waiting for confirmation", "確認待ち";
    SendTest => "Send test", "テスト送信";
    TestSending => "Sending…", "送信中…";
    TestNotDelivered => "Test message not delivered:", "テストメッセージを送信できませんでした：";
    ConfirmBeforeTest => "The address must be confirmed first: its owner follows the link in the confirmation email.", "先にアドレスの確認が必要です。受信者が確認メールのリンクを開いてください。";
    ResendLink => "Send the link again", "確認リンクを再送";
    LinkSent => "Link sent", "リンクを送信しました";
    EditDestinationButton => "Edit", "編集";
    ConfirmDeleteDestination => "Delete the destination {name}? Its rules are deleted too.", "送信先 {name} を削除しますか？この送信先のルールも削除されます。";
    AddDestination => "Add a destination", "送信先を追加";
    EditDestination => "Change a destination", "送信先を変更";
    OnlyAdminsNotifications => "Only organization admins and owners can add, change and test destinations and default rules.", "送信先と既定のルールを追加・変更・テストできるのは組織の管理者とオーナーだけです。";
    KindFixedHint => "The kind of a saved destination cannot change; add a new one instead.", "保存済みの送信先の種類は変更できません。新しい送信先を追加してください。";
    DestinationName => "Destination name", "送信先の名前";
    DestinationNameHint => "e.g. \"#data-alerts\" or \"On-call email\".", "例：「データ障害チャンネル」「当番メール」。";
    SlackWebhookUrl => "Slack webhook URL", "Slack の Webhook URL";
    SlackUrlHint => "The incoming webhook URL Slack gave you. It is a secret: stored encrypted and never shown again.", "Slack で発行した受信 Webhook の URL です。秘密情報として暗号化して保存し、二度と表示しません。";
    SlackUrlKeepHint => "Stored. Leave empty to keep it, or paste a new URL to replace it.", "保存済みです。変更しない場合は空のままにし、置き換える場合は新しい URL を貼り付けてください。";
    EmailConfirmHint => "A confirmation link goes to this address. It receives nothing until someone follows the link.", "このアドレスに確認リンクを送ります。リンクが開かれるまで通知は届きません。";
    WebhookUrl => "Webhook URL", "Webhook の URL";
    WebhookUrlHint => "Hakobu sends a JSON POST to this address for each notification.", "通知のたびに、このアドレスへ JSON 形式で送信します。";
    WebhookHeaders => "Headers", "ヘッダー";
    WebhookHeadersHint => "Optional. Mark tokens and signatures as secret: they are stored encrypted and never shown again.", "任意です。トークンや署名は「秘密」にしてください。暗号化して保存し、二度と表示しません。";
    HeaderName => "Header name", "ヘッダー名";
    HeaderValue => "Value", "値";
    HeaderSecret => "Secret", "秘密";
    StoredKeep => "(stored; leave empty to keep)", "（保存済み。空のままなら変更しません）";
    AddHeader => "Add a header", "ヘッダーを追加";
    SaveAdminChanges => "Save changes", "変更を保存";
    DestinationSaved => "Saved.", "保存しました。";
    DefaultRules => "Default rules of the organization", "組織の既定のルール";
    DefaultRulesLead => "They apply to every job that has no rule of its own for the same event. A job's editors set its own rules on the job's page.", "同じイベントについて独自のルールがないすべてのジョブに適用されます。ジョブ独自のルールは、ジョブの編集者がジョブのページで設定します。";
    NoRulesTitle => "No default rules", "既定のルールはありません";
    NoRulesBody => "Without one, only jobs with their own rules notify anyone.", "既定のルールがない場合、独自のルールを持つジョブだけが通知します。";
    AddDestinationFirst => "Add a destination first; then choose when to notify it.", "先に送信先を追加してから、通知するタイミングを選んでください。";
    RuleWhen => "When", "タイミング";
    OrgRuleThreshold => "Threshold", "しきい値";
    RuleSendTo => "Send to", "送信先";
    RuleOff => "Off", "停止中";
    AddOrgRule => "Add the rule", "ルールを追加";
    ConfirmDeleteRule => "Delete the rule \"{event}\"?", "ルール「{event}」を削除しますか？";
    ThresholdRows => "{n} rows", "{n} 行";
    ThresholdSeconds => "{n} seconds", "{n} 秒";
    ThresholdRowsHint => "A number of rows.", "行数を入力してください。";
    ThresholdSecondsHint => "Seconds of running, e.g. 3600 for an hour.", "実行時間の秒数です（例：1 時間なら 3600）。";
    RuleEventSuccess => "A run succeeded", "実行が成功したとき";
    RuleEventFailure => "A run failed, timed out or was cancelled", "実行が失敗・時間切れ・中止になったとき";
    RuleEventRowsBelow => "A run wrote fewer rows than the threshold", "書き込み行数がしきい値より少ないとき";
    RuleEventRowsAbove => "A run wrote more rows than the threshold", "書き込み行数がしきい値より多いとき";
    RuleEventDurationOver => "A run takes longer than the threshold", "実行時間がしきい値を超えたとき";
    RuleEventCheckFailed => "A data check failed", "データチェックが失敗したとき";
    RuleEventCheckWarned => "A data check warned", "データチェックが警告を出したとき";
    RuleEventScheduleDisabled => "A schedule turned itself off", "スケジュールが自動で停止したとき";
    SchedulesLead => "Every schedule of the jobs you can see, the next run first. Choose several to turn them on or off at once.", "閲覧できるジョブのすべてのスケジュールです（次の実行が近い順）。複数を選んで、まとめて有効・無効にできます。";
    NoSchedulesTitle => "No schedules yet", "スケジュールはまだありません";
    NoSchedulesBody => "Add a schedule on a job's page to run it automatically.", "ジョブのページでスケジュールを追加すると、自動で実行されます。";
    BulkActions => "Change the chosen schedules", "選んだスケジュールの変更";
    SelectedCount => "{n} chosen", "{n} 件を選択中";
    EnableSelected => "Turn on", "有効にする";
    DisableSelected => "Turn off", "無効にする";
    OnlyEditorsSchedules => "Only editors and admins of a job can turn its schedules on or off.", "スケジュールを有効・無効にできるのは、そのジョブの編集者と管理者だけです。";
    SelectAllSchedules => "Choose every schedule you can change", "変更できるスケジュールをすべて選択";
    SelectSchedule => "Choose the schedule of {job}", "{job} のスケジュールを選択";
    ScheduleWhen => "Repeats", "繰り返し";
    ScheduleNextFire => "Next run", "次回の実行";
    ScheduleLastFired => "Last run", "前回の実行";
    ScheduleOn => "On", "有効";
    ScheduleOff => "Off", "無効";
    ScheduleTurnedOff => "Turned off by Hakobu", "Hakobu が自動で停止";
    NotWhileOff => "None while off", "無効の間はなし";
    FailuresInARow => "{n} failed runs in a row", "{n} 回連続で失敗";
    SchedulesEnabled => "Schedules turned on: {n}.", "{n} 件のスケジュールを有効にしました。";
    SchedulesDisabled => "Schedules turned off: {n}.", "{n} 件のスケジュールを無効にしました。";
    QueueLead => "How many runs may go at once, what runs now and what waits, in the order it will start.", "同時に実行できる数と、実行中の処理、開始される順に並んだ待機中の処理です。";
    QueueRefresh => "Refresh", "最新の状態にする";
    SeeQueue => "See the queue", "実行キューを見る";
    TeamResources => "What this team works with", "このチームが扱う接続とジョブ";
    TeamResourcesHint => "Connections and jobs the team owns, and those other teams share with it, as far as you can see them. Sharing is set on each connection's or job's page by its team's admins.", "チームが所有する接続とジョブ、および他のチームから共有されたものです（あなたが閲覧できるものだけ）。共有は各接続・各ジョブのページで、そのチームの管理者が設定します。";
    NoTeamResources => "This team has no connections or jobs you can see.", "このチームには、あなたが閲覧できる接続やジョブはありません。";
    ResourceKind => "Type", "種類";
    ResourceConnection => "Connection", "接続";
    ResourceHolding => "How the team has it", "チームとの関係";
    OwnedByTeam => "Owned by this team", "このチームが所有";
    SharedWithTeamAs => "Shared with this team: {role}", "このチームに共有（{role}）";
    RunningOfLimit => "{n} of {limit}", "{limit} 件中 {n} 件";
    WaitingInOrder => "Waiting, in the order they start", "待機中（開始される順）";
    SomeRunsHidden => "The counts include runs of jobs you cannot see; those are not listed.", "件数には閲覧できないジョブの実行も含まれますが、一覧には表示しません。";
    NothingRunning => "Nothing is running.", "実行中のものはありません。";
    NothingWaiting => "Nothing is waiting.", "待機中のものはありません。";
    ConcurrencyLimit => "Runs at once", "同時実行数";
    OrgLimitIs => "This organization runs at most {n} at once (the service allows up to {max}).", "この組織の同時実行数は最大 {n} 件です（このサービスの上限は {max} 件）。";
    ServiceLimitApplies => "The service's ceiling applies: at most {max} at once.", "サービスの上限が適用されます：同時に最大 {max} 件。";
    RunsAtOnce => "Runs at once", "同時実行数";
    RunsAtOnceHint => "A whole number from 1 to {max}. Leave empty to use the service's ceiling. Runs already going are not stopped.", "1 から {max} までの整数です。空にするとサービスの上限を使います。実行中の処理は止まりません。";
    LimitRange => "must be a whole number from 1 to {max}, or empty for the service's ceiling", "1 から {max} までの整数を入力するか、空にしてください（サービスの上限を使います）。";
    LimitSaved => "Saved. Queued runs start as the new limit allows.", "保存しました。待機中の実行は新しい上限に従って開始されます。";
    OnlyAdminsConcurrency => "Only organization admins and owners can change how many runs go at once.", "同時実行数を変更できるのは組織の管理者とオーナーだけです。";
    ActDestinationCreate => "Added a notification destination", "通知の送信先を追加";
    ActDestinationUpdate => "Changed a notification destination", "通知の送信先を変更";
    ActDestinationDelete => "Deleted a notification destination", "通知の送信先を削除";
    ActDestinationConfirm => "Confirmed an email address for notifications", "通知用メールアドレスを確認";
    ActNotificationRuleCreate => "Added a notification rule", "通知ルールを追加";
    ActNotificationRuleUpdate => "Changed a notification rule", "通知ルールを変更";
    ActNotificationRuleDelete => "Deleted a notification rule", "通知ルールを削除";
    ActOrganizationConcurrency => "Changed how many runs go at once", "同時実行数を変更";
    ActScheduleCreate => "Added a schedule", "スケジュールを追加";
    ActScheduleUpdate => "Changed a schedule", "スケジュールを変更";
    ActScheduleDelete => "Deleted a schedule", "スケジュールを削除";
    ActScheduleEnable => "Turned a schedule on", "スケジュールを有効化";
    ActScheduleDisable => "Turned a schedule off", "スケジュールを無効化";
    ActScheduleAutoDisable => "Hakobu turned a schedule off after failures", "失敗が続いたためスケジュールを自動停止";
    // --- job sharing ---
    JobSharingHint => "Other teams that may see this job, and how: viewers see it and its runs, operators also run it, editors also change it.", "このジョブを利用できる他のチームと、その権限です。閲覧者はジョブと実行履歴を見られ、実行者は実行もでき、編集者は変更もできます。";
    JobNotShared => "Not shared with other teams.", "他のチームには共有されていません。";
    OnlyTeamAdminsShareJobs => "Only admins of the team that owns this job (and organization admins) can change who it is shared with.", "共有先を変更できるのは、このジョブを所有するチームの管理者（と組織の管理者）だけです。";
    TeamYouAreNotIn => "A team you are not in", "あなたが所属していないチーム";
    SharesKeptForOtherTeams => "Also shared with {n} team(s) you are not in; saving keeps those shares as they are.", "あなたが所属していない {n} 個のチームにも共有されています。保存してもそれらの共有はそのまま残ります。";
    OrgRuleTemplateHint => "Empty: the default message for the event. Write {{ job_name }}, {{ status }}, {{ rows }}, {{ duration }}, {{ error }}, {{ run_url }} or a run's variable as {{ variables.NAME }} or $NAME$ ($$ writes $). A name the template does not know is refused when you save.", "空欄ならイベントごとの既定のメッセージを送ります。{{ job_name }}、{{ status }}、{{ rows }}、{{ duration }}、{{ error }}、{{ run_url }}、実行時の変数 {{ variables.NAME }} または $NAME$ が使えます（$$ で $ を書けます）。使えない名前は保存するときに拒否されます。";
    OrgRuleMentionsHint => "Slack only: member ids (U024BE7LH), group ids (S0614TZR7), here or channel, separated by commas; at most 20.", "Slack のみ：メンバー ID（U024BE7LH）、グループ ID（S0614TZR7）、here、channel をカンマ区切りで。20 個まで。";
    OrgRuleSubjectHint => "Email only: one line. Empty: a subject naming the job and the run's status. The same names as the message may be used, e.g. {{ job_name }} {{ status }}.", "メールのみ・1 行。空欄ならジョブ名と実行の状態を件名にします。メッセージと同じ名前が使えます（例：{{ job_name }} {{ status }}）。";
    QueueAutoRefreshes => "Refreshes by itself every 5 seconds while this page is open.", "このページを開いている間は 5 秒ごとに自動で更新されます。";
    // --- #21 insights and usage ---
    NavInsights => "Insights", "インサイト";
    InsightsLead => "How the runs of the jobs you can see went over a period: outcomes per day, failure rate, durations, queue waits, rows moved and what the runners used.", "見られるジョブの実行が期間内にどうだったかを示します：日ごとの結果、失敗率、所要時間、待ち時間、移動した行数、ランナーの使用量。";
    InsightsPeriod => "Period", "期間";
    InsightsLastDays => "Last {n} days", "直近 {n} 日";
    InsightsRunsEnded => "Runs ended", "終了した実行";
    InsightsFailureRate => "Failure rate", "失敗率";
    InsightsRowsWritten => "Rows written", "書き込んだ行数";
    InsightsDuration => "Duration, median / 95th percentile", "所要時間（中央値 / 95 パーセンタイル）";
    InsightsQueueWait => "Queue wait, median / 95th percentile", "待ち時間（中央値 / 95 パーセンタイル）";
    InsightsCost => "Estimated runner cost", "ランナーの推定費用";
    InsightsPerDay => "Runs per day by outcome", "日ごとの実行結果";
    InsightsNoRuns => "No run ended in this period.", "この期間に終了した実行はありません。";
    InsightsJobs => "Per job", "ジョブごと";
    InsightsSlowest => "Slowest jobs (95th percentile)", "時間のかかるジョブ（95 パーセンタイル）";
    InsightsMostFailing => "Most failing jobs", "失敗の多いジョブ";
    InsightsNoFailures => "No job failed in this period.", "この期間に失敗したジョブはありません。";
    InsightsRuns => "Runs", "実行数";
    InsightsFailures => "Failures", "失敗";
    InsightsMedian => "Median", "中央値";
    InsightsP95 => "95th percentile", "95 パーセンタイル";
    InsightsMonths => "Usage per month", "月ごとの使用量";
    InsightsMonth => "Month", "月";
    InsightsVcpuHours => "vCPU-hours", "vCPU 時間";
    InsightsGbHours => "GB-hours", "GB 時間";
    InsightsDownloadCsv => "Download each run's usage (CSV)", "実行ごとの使用量をダウンロード（CSV）";
    InsightsPrices => "Estimated at {vcpu} per vCPU-hour and {gb} per GB-hour ({source}): the task size times the time from the run's start to its end.", "1 vCPU 時間あたり {vcpu}、1 GB 時間あたり {gb} で見積もっています（{source}）。タスクのサイズに実行の開始から終了までの時間を掛けた値です。";
    PricesFargate => "Fargate's public prices in {region}", "{region} の Fargate 公開価格";
    PricesFargateUnlisted => "Fargate's public prices in {region}; none are listed here for {asked}", "{region} の Fargate 公開価格。{asked} の価格はここに登録されていません";
    PricesOperator => "the operator's prices", "運用者が設定した価格";
    InsightsChartSummary => "{day}: {ok} succeeded, {failed} failed, {cancelled} cancelled", "{day}：成功 {ok}、失敗 {failed}、中止 {cancelled}";
    MaxConcurrentRuns => "At most this many runs at once (optional)", "同時に実行する数の上限（任意）";
    MaxConcurrentRunsHint => "1 to 100. Runs due beyond it wait in the queue; empty: only the organization's limit applies.", "1〜100。上限を超えた実行はキューで待ちます。空欄なら組織の上限だけが適用されます。";
    RunUsage => "Runner size and use", "ランナーのサイズと使用量";
    RunUsageText => "{vcpu} vCPU, {memory} MiB · {vcpu_seconds} vCPU-seconds · about {price}", "{vcpu} vCPU、{memory} MiB ・ {vcpu_seconds} vCPU 秒 ・ 約 {price}";
    // --- #19 workflows ---
    NavWorkflows => "Workflows", "ワークフロー";
    WorkflowsLead => "Jobs, waits and notifications that run after each other, as a graph.", "ジョブ、待機、通知を順番に実行するグラフです。";
    NoWorkflowsTitle => "No workflows yet", "ワークフローはまだありません";
    NoWorkflowsBody => "A workflow runs jobs after each other: load, then build a mart, then tell someone.", "ワークフローはジョブを順番に実行します。読み込み、データマートの作成、通知のように続けられます。";
    NewWorkflow => "New workflow", "新しいワークフロー";
    EditWorkflow => "Edit workflow", "ワークフローを編集";
    Workflow => "Workflow", "ワークフロー";
    WorkflowRun => "Workflow run", "ワークフローの実行";
    WorkflowTasks => "Tasks", "タスク";
    WorkflowLastRun => "Last run", "前回の実行";
    NeverRun => "Never run", "未実行";
    WorkflowGraph => "Graph", "グラフ";
    WorkflowGraphLabel => "The workflow's tasks as a graph: each arrow goes from a task to a task that runs after it. The table lists the same.", "ワークフローのタスクのグラフです。矢印は、あるタスクからその後に実行されるタスクへ向かいます。同じ内容を表にも示しています。";
    WorkflowLegend => "Legend", "凡例";
    WorkflowRuns => "Runs", "実行履歴";
    NoWorkflowRuns => "This workflow has not run yet.", "このワークフローはまだ実行されていません。";
    WorkflowParallelismIs => "Runs at most {n} tasks at once.", "同時に実行するタスクは最大 {n} 個です。";
    WorkflowAsOfHint => "Empty: now. Every job run of the workflow computes its date variables from this time.", "空欄なら現在です。ワークフローのすべてのジョブ実行が、この日時から日付の変数を計算します。";
    WorkflowAttempt => "Attempt", "試行";
    DeleteWorkflowQuestion => "Delete the workflow \"{name}\"? Its runs are deleted too.", "ワークフロー「{name}」を削除しますか？実行履歴も削除されます。";
    ResumeFromFailed => "Resume from failed", "失敗したところから再開";
    RerunAll => "Re-run all", "すべて再実行";
    RunError => "Error:", "エラー：";
    TaskName => "Task name", "タスク名";
    TaskKind => "Kind", "種類";
    TaskWhat => "What it does", "内容";
    TaskAfter => "Runs after", "先に終わるタスク";
    TaskAfterHint => "The tasks that must end before this one starts; each is an arrow of the graph.", "このタスクの開始前に終わっている必要があるタスクです。それぞれがグラフの矢印になります。";
    TaskRunIf => "Runs when", "実行する条件";
    TaskRetries => "Retries (optional)", "再試行の回数（任意）";
    TaskRetriesHint => "0 to 10. Empty: the job's own setting.", "0〜10。空欄ならジョブ自身の設定です。";
    TaskTimeout => "Timeout in minutes (optional)", "タイムアウト（分、任意）";
    TaskTimeoutHint => "Empty: the job's own timeout.", "空欄ならジョブ自身のタイムアウトです。";
    TaskJobRun => "Job run", "ジョブの実行";
    TaskStarts => "Starts", "開始回数";
    TaskMessage => "Message", "メッセージ";
    TaskPending => "pending", "待機中";
    TaskSkipped => "skipped", "スキップ";
    TaskSkippedForFailure => "skipped (a task before it failed)", "スキップ（前のタスクが失敗）";
    TaskKindJob => "Run a job", "ジョブを実行";
    TaskKindWait => "Wait", "待機";
    TaskKindNotify => "Notify", "通知";
    TaskKindWaitUntil => "Wait until a time of day", "指定の時刻まで待機";
    TaskKindWorkflow => "Run a workflow", "ワークフローを実行";
    TaskKindCheck => "Data check", "データチェック";
    TaskKindHttp => "HTTP request", "HTTP リクエスト";
    RunIfSuccess => "When the tasks before it succeeded", "前のタスクが成功したとき";
    RunIfFailure => "When a task before it failed", "前のタスクが失敗したとき";
    RunIfAlways => "Always, once the tasks before it ended", "前のタスクの終了後は常に";
    WorkflowName => "Workflow name", "ワークフロー名";
    WorkflowParallelism => "Tasks at once", "同時に実行するタスク数";
    WorkflowParallelismHint => "1 to 50. Your organization's limit on runs at once applies to the job runs too.", "1〜50。組織の同時実行数の上限もジョブの実行に適用されます。";
    WorkflowEditorLead => "Add the tasks, say which run after which, and save. Runs already started keep the workflow as it was.", "タスクを追加し、どのタスクの後に実行するかを指定して保存します。開始済みの実行は元の内容のまま動きます。";
    WorkflowPreviewHint => "Drawn again as you change the tasks.", "タスクを変更すると描き直されます。";
    AddTask => "Add a task", "タスクを追加";
    RemoveTask => "Remove this task", "このタスクを削除";
    TaskNumber => "Task {n}", "タスク {n}";
    SaveWorkflow => "Save the workflow", "ワークフローを保存";
    CreateWorkflow => "Create the workflow", "ワークフローを作成";
    PickAJob => "Pick a job", "ジョブを選択";
    TaskJobHint => "Jobs you may run (operator or more on their team).", "実行できるジョブ（チームでの権限が実行者以上）です。";
    TaskWaitSeconds => "Seconds to wait", "待機する秒数";
    TaskWaitUntilTime => "Time of day", "時刻";
    TaskTimeZone => "Time zone", "タイムゾーン";
    TaskTimeZoneHint => "An IANA name such as Asia/Tokyo or UTC. The task waits for the first such time at or after it starts.", "Asia/Tokyo や UTC のような IANA の名前です。タスクは開始後に最初に来るその時刻まで待ちます。";
    TaskWorkflow => "Workflow to run", "実行するワークフロー";
    PickAWorkflow => "Pick a workflow", "ワークフローを選択";
    TaskWorkflowHint => "Another workflow of the organization. This task ends as its run does.", "組織のほかのワークフローです。このタスクはその実行と同じ結果で終わります。";
    PickAConnection => "Pick a connection", "接続を選択";
    TaskHttpMethod => "Method", "メソッド";
    TaskHttpUrl => "URL", "URL";
    TaskHttpUrlHint => "An http:// or https:// address. The request goes through your organization's egress policy.", "http:// または https:// のアドレスです。リクエストは組織の外部通信ポリシーに従って送信されます。";
    TaskHttpBody => "Body (optional)", "本文（任意）";
    TaskHttpExpectStatus => "Expected status (optional)", "期待するステータス（任意）";
    TaskHttpExpectStatusHint => "100 to 599. Empty: any status from 200 to 299 counts as success.", "100〜599。空欄なら 200〜299 のどのステータスでも成功です。";
    TaskRetryDelay => "Retry delay in seconds (optional)", "再試行までの待ち時間（秒、任意）";
    TaskRetryDelayHint => "1 to 86400, doubled at each further retry up to a day. Empty: the job's own setting, or 60 for other tasks.", "1〜86400。再試行のたびに 2 倍になります（最大 1 日）。空欄ならジョブ自身の設定、ほかのタスクは 60 秒です。";
    TaskDestination => "Notification destination", "通知の送信先";
    PickADestination => "Pick a destination", "送信先を選択";
    OnlyEditorsChangeWorkflows => "Only editors of the workflow's team can change it, and only editors of a team can create one.", "ワークフローを変更できるのは所有チームの編集者だけで、作成できるのはいずれかのチームの編集者だけです。";
}

/// `text` with each `{name}` replaced by its value.
pub fn fill(lang: Lang, key: Key, values: &[(&str, &str)]) -> String {
    let mut out = key.text(lang).to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A count in a sentence: `one` for exactly 1, otherwise `many` with `{n}` filled, as
/// English needs "1 run" but "2 runs" (the Japanese texts read the same either way).
pub fn fill_count(lang: Lang, one: Key, many: Key, n: usize) -> String {
    if n == 1 {
        one.text(lang).to_owned()
    } else {
        fill(lang, many, &[("n", &n.to_string())])
    }
}

/// A message from the server or `core`'s validators, in `lang`. With a field `label`,
/// English reads "Email is required"; Japanese shows the sentence alone, beside the field
/// it is about. A message of the catalogue is said from its code; others stay as written.
pub fn translate(lang: Lang, label: Option<&str>, text: &Text) -> String {
    let english = text.english.as_str();
    match lang {
        Lang::En => match label {
            Some(label) if english.starts_with(|c: char| c.is_lowercase()) => {
                format!("{label} {english}")
            }
            _ => english.to_owned(),
        },
        // Without a code the sentence is not one the UI can say in Japanese.
        Lang::Ja => match &text.message {
            Some(message) => japanese(message),
            None => english.to_owned(),
        },
    }
}

/// A message of `core`'s catalogue in Japanese, its parts filled.
fn japanese(message: &Message) -> String {
    fill_template(catalogue::japanese_template(message.code), &message.params)
}

/// The audit log's action code (`team.create`) in words, when it is a known one.
pub fn audit_action(code: &str) -> Option<Key> {
    Some(match code {
        "api_token.create" => Key::ActApiTokenCreate,
        "api_token.revoke" => Key::ActApiTokenRevoke,
        "connection.create" => Key::ActConnectionCreate,
        "connection.update" => Key::ActConnectionUpdate,
        "connection.delete" => Key::ActConnectionDelete,
        "connection.share" => Key::ActConnectionShare,
        "invitation.create" => Key::ActInvitationCreate,
        "invitation.revoke" => Key::ActInvitationRevoke,
        "invitation.accept" => Key::ActInvitationAccept,
        "job.create" => Key::ActJobCreate,
        "job.update" => Key::ActJobUpdate,
        "job.delete" => Key::ActJobDelete,
        "job.share" => Key::ActJobShare,
        "job.enable" => Key::ActJobEnable,
        "job.disable" => Key::ActJobDisable,
        "job.duplicate" => Key::ActJobDuplicate,
        "job.import" => Key::ActJobImport,
        "member.create" => Key::ActMemberCreate,
        "member.role_change" => Key::ActMemberRoleChange,
        "member.remove" => Key::ActMemberRemove,
        "member.password_change" => Key::ActMemberPasswordChange,
        "organization.create" => Key::ActOrganizationCreate,
        "organization.rename" => Key::ActOrganizationRename,
        "run.start" => Key::ActRunStart,
        "run.cancel" => Key::ActRunCancel,
        "run.rerun" => Key::ActRunRerun,
        "team.create" => Key::ActTeamCreate,
        "team.rename" => Key::ActTeamRename,
        "team.delete" => Key::ActTeamDelete,
        "team.member_add" => Key::ActTeamMemberAdd,
        "team.member_role_change" => Key::ActTeamMemberRoleChange,
        "team.member_remove" => Key::ActTeamMemberRemove,
        // #9 admin pages.
        "destination.create" => Key::ActDestinationCreate,
        "destination.update" => Key::ActDestinationUpdate,
        "destination.delete" => Key::ActDestinationDelete,
        "destination.confirm" => Key::ActDestinationConfirm,
        "notification_rule.create" => Key::ActNotificationRuleCreate,
        "notification_rule.update" => Key::ActNotificationRuleUpdate,
        "notification_rule.delete" => Key::ActNotificationRuleDelete,
        "organization.concurrency" => Key::ActOrganizationConcurrency,
        "schedule.create" => Key::ActScheduleCreate,
        "schedule.update" => Key::ActScheduleUpdate,
        "schedule.delete" => Key::ActScheduleDelete,
        "schedule.enable" => Key::ActScheduleEnable,
        "schedule.disable" => Key::ActScheduleDisable,
        "schedule.auto_disable" => Key::ActScheduleAutoDisable,
        _ => return None,
    })
}

pub fn role_name(lang: Lang, role: OrgRole) -> &'static str {
    match role {
        OrgRole::Owner => Key::RoleOwner,
        OrgRole::Admin => Key::RoleAdmin,
        OrgRole::Member => Key::RoleMember,
    }
    .text(lang)
}

pub fn team_role_name(lang: Lang, role: TeamRole) -> &'static str {
    match role {
        TeamRole::Viewer => Key::TeamRoleViewer,
        TeamRole::Operator => Key::TeamRoleOperator,
        TeamRole::Editor => Key::TeamRoleEditor,
        TeamRole::Admin => Key::TeamRoleAdmin,
    }
    .text(lang)
}

/// A connection kind's name.
pub fn connection_kind_name(kind: ConnectionKind) -> Key {
    match kind {
        ConnectionKind::Postgresql => Key::KindPostgresql,
        ConnectionKind::Mysql => Key::KindMysql,
        ConnectionKind::S3 => Key::KindS3,
        ConnectionKind::LocalFiles => Key::KindLocalFiles,
        ConnectionKind::Bigquery => Key::KindBigquery,
        ConnectionKind::Snowflake => Key::KindSnowflake,
    }
}

/// A load mode's name and its one-line explanation.
pub fn load_mode_texts(mode: Mode) -> (Key, Key) {
    match mode {
        Mode::Insert => (Key::ModeInsert, Key::ModeInsertHint),
        Mode::InsertDirect => (Key::ModeInsertDirect, Key::ModeInsertDirectHint),
        Mode::TruncateInsert => (Key::ModeTruncateInsert, Key::ModeTruncateInsertHint),
        Mode::Replace => (Key::ModeReplace, Key::ModeReplaceHint),
        Mode::Merge => (Key::ModeMerge, Key::ModeMergeHint),
        Mode::MergeDirect => (Key::ModeMergeDirect, Key::ModeMergeDirectHint),
        Mode::DeleteInsert => (Key::ModeDeleteInsert, Key::ModeDeleteInsertHint),
    }
}

/// A notification event in words (a rule's condition, a run's deliveries).
pub fn notification_event_key(event: NotificationEventKind) -> Key {
    match event {
        NotificationEventKind::Success => Key::EventSuccess,
        NotificationEventKind::Failure => Key::EventFailure,
        NotificationEventKind::RowsBelow => Key::EventRowsBelow,
        NotificationEventKind::RowsAbove => Key::EventRowsAbove,
        NotificationEventKind::DurationOver => Key::EventDurationOver,
        NotificationEventKind::CheckFailed => Key::EventCheckFailed,
        NotificationEventKind::CheckWarned => Key::EventCheckWarned,
        NotificationEventKind::ScheduleDisabled => Key::EventScheduleDisabled,
    }
}

/// The current language, in context.
pub fn use_lang() -> RwSignal<Lang> {
    expect_context::<RwSignal<Lang>>()
}

/// A reactive text for views: `{tr(Key::SignIn)}` follows the language switch.
pub fn tr(key: Key) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let lang = use_lang();
    move || key.text(lang.get())
}

const STORAGE_KEY: &str = "hakobu.lang";

/// Puts the language in context: the user's last choice, else the browser's language.
pub fn provide_lang() {
    let lang = RwSignal::new(initial_lang());
    provide_context(lang);
    // `<html lang>` lets screen readers pronounce the text in the right language.
    Effect::new(move |_| {
        let code = lang.get().code();
        #[cfg(target_arch = "wasm32")]
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("lang", code);
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = code;
    });
}

/// Switches the language and remembers the choice in this browser.
pub fn set_lang(lang: Lang) {
    use_lang().set(lang);
    #[cfg(target_arch = "wasm32")]
    if let Ok(Some(storage)) = window().local_storage() {
        let _ = storage.set_item(STORAGE_KEY, lang.code());
    }
}

fn initial_lang() -> Lang {
    #[cfg(target_arch = "wasm32")]
    {
        let stored = window()
            .local_storage()
            .ok()
            .flatten()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
            .and_then(|code| Lang::from_code(&code));
        stored.unwrap_or_else(|| {
            Lang::from_browser(&window().navigator().language().unwrap_or_default())
        })
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = STORAGE_KEY;
        Lang::En
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hakobu_core::messages::MessageCode;
    use std::collections::BTreeSet;

    fn placeholders(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            out.insert(rest[start..start + len + 1].to_owned());
            rest = &rest[start + len + 1..];
        }
        out
    }

    #[test]
    fn every_key_has_text_in_every_language() {
        for &key in Key::ALL {
            for lang in Lang::ALL {
                assert!(
                    !key.text(lang).trim().is_empty(),
                    "{key:?} is empty in {lang:?}"
                );
            }
        }
    }

    #[test]
    fn both_languages_use_the_same_placeholders() {
        for &key in Key::ALL {
            let en = placeholders(key.text(Lang::En));
            let ja = placeholders(key.text(Lang::Ja));
            // The English time-zone line also names the zone's id; Japanese shows its name only.
            if key == Key::TimesShownIn {
                assert!(ja.is_subset(&en));
                continue;
            }
            assert_eq!(en, ja, "{key:?}");
        }
        for &code in MessageCode::ALL {
            let en = placeholders(code.english_template());
            let ja = placeholders(catalogue::japanese_template(code));
            if catalogue::PARTS_LEFT_OUT.contains(&code) {
                assert!(ja.is_subset(&en), "{code:?}");
            } else {
                assert_eq!(en, ja, "{code:?}");
            }
        }
    }

    /// The Latin words Japanese text may keep: names or codes (Hakobu, API, CSV, the
    /// example address and the audit action names the filter expects).
    const LATIN_WORDS_ALLOWED_IN_JAPANESE: &[&str] = &[
        "Hakobu",
        // SQL words, written as they are typed.
        "DDL",
        "DML",
        "TRANSACTION",
        "COMMIT",
        "CREATE",
        "ALTER",
        "DROP",
        "TRUNCATE",
        "WHERE",
        "API",
        "CSV",
        "name",
        "example",
        "com",
        "team",
        "create",
        "user",
        "invitation",
        "n",
        "t",
        // {r} and {w}: bytes read and written.
        "r",
        "w",
        "page",
        "pages",
        "total",
        "email",
        "from",
        "to",
        "zone",
        // Product and format names, and the examples of values typed as they are.
        "AKIA",
        "AWS",
        "Amazon",
        "CA",
        "RDS",
        "Cloud",
        "SQL",
        "DB",
        "Embulk",
        "ID",
        "IP",
        "MariaDB",
        "MinIO",
        "MySQL",
        "PEM",
        "PostgreSQL",
        "S",
        "TLS",
        "URL",
        "HTTP",
        "NULL",
        "IANA",
        "Asia",
        "Tokyo",
        "UTC",
        "minute",
        "time",
        "days",
        "day",
        "expression",
        "ap",
        "northeast",
        "csv",
        "db",
        "exports",
        "orders",
        "https",
        "storage",
        "paid",
        "status",
        // #9: notification kinds and the URL and header examples.
        "Slack",
        "Webhook",
        "JSON",
        "hooks",
        "path",
        "http",
        "Authorization",
        "limit",
        "role",
        "max",
        "job",
        "event",
        // Placeholders.
        "changes",
        "reason",
        "column",
        "h",
        "m",
        "masks",
        "ms",
        "s",
        "step",
        "value",
        "version",
        // #8: placeholders, strftime codes, and names written as they are typed.
        "found",
        "position",
        "var",
        "known",
        "other",
        "format",
        "event",
        "max",
        "detail",
        "names",
        "strftime",
        "Y",
        "d",
        "H",
        "M",
        "SELECT",
        "WITH",
        "Slack",
        "Webhook",
        "here",
        "channel",
        "run",
        "id",
        "job",
        "scheduled",
        "target",
        "date",
        "sales",
        "rows",
        "duration",
        "error",
        "variables",
        "NAME",
        // #14: the placeholder of local_files_off, and the variable it names.
        "kind",
        "HAKOBU",
        "LOCAL",
        "FILES",
        "ROOT",
        // --- job sharing ---: run_url, and the Slack ids of the mentions example.
        "url",
        "U",
        "BE",
        "LH",
        "TZR",
        // Tenant boundary: the placeholders of the template and preview limits.
        "size",
        "seconds",
        // --- cloud roles ---: the role ARN example, STS's words and the auth choices.
        "ARN",
        "IAM",
        "STS",
        "sts",
        "AssumeRole",
        "arn",
        "aws",
        "iam",
        "hakobu",
        "reader",
        "assume",
        "ExternalId",
        // SSH tunnels: protocol, key and tool names, typed as they are.
        "SSH",
        "SHA",
        "RSA",
        "TCP",
        "ed",
        "BEGIN",
        "END",
        "ssh",
        "keygen",
        "l",
        "authorized",
        "keys",
        // Saved secrets bound to their endpoint: placeholders naming a setting and a secret.
        "changed",
        "secret",
        // A load mode's own name.
        "replace",
        // Runner sizes: units and the service whose sizes they are.
        "CPU",
        "vCPU",
        "MiB",
        "AWS",
        "Fargate",
        "GB",
        // #21 insights: the names of placeholders.
        "region",
        "asked",
        "vcpu",
        "gb",
        "source",
        "ok",
        "failed",
        "cancelled",
        "memory",
        "seconds",
        "price",
        "cpu",
        "from",
        "to",
        "step",
        "limit",
        // #20 warehouses: product names, and the example values and SQL in their help.
        "Google",
        "BigQuery",
        "Snowflake",
        "Private",
        "Service",
        "Connect",
        "my",
        "analytics",
        "raw",
        "US",
        "EU",
        "asia",
        "bigquery",
        "p",
        "snowflakecomputing",
        "myorg",
        "myaccount",
        "xy",
        "privatelink",
        "PRIVATE",
        "KEY",
        "USER",
        "SET",
        "PUBLIC",
    ];

    fn assert_no_english_left(what: &str, ja: &str) {
        for word in ja
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| !w.is_empty())
        {
            assert!(
                LATIN_WORDS_ALLOWED_IN_JAPANESE.contains(&word),
                "{what}: {word:?} in {ja:?}"
            );
        }
    }

    #[test]
    fn japanese_has_no_english_left() {
        for &key in Key::ALL {
            assert_no_english_left(&format!("{key:?}"), key.text(Lang::Ja));
        }
        for &code in MessageCode::ALL {
            assert_no_english_left(code.code(), catalogue::japanese_template(code));
        }
    }

    #[test]
    fn catalogue_messages_translate_by_code_with_their_parts() {
        let short = Text::from(MessageCode::PasswordTooShort.with("n", 10));
        assert_eq!(
            translate(Lang::Ja, Some("パスワード"), &short),
            "10 文字以上にしてください。"
        );
        assert_eq!(
            translate(Lang::En, Some("Password"), &short),
            "Password must be at least 10 characters long"
        );
        assert_eq!(
            translate(Lang::Ja, None, &MessageCode::WrongPassword.into()),
            "メールアドレスまたはパスワードが正しくありません。"
        );
        assert_eq!(
            translate(
                Lang::Ja,
                None,
                &MessageCode::NamedNotFound.with("what", "team").into()
            ),
            "見つかりません。削除された可能性があります。"
        );
        // What the server sent is what English shows, even for a code this build knows.
        let received = Text::received(
            "Your role does not allow you to rename the team.",
            Some("forbidden"),
            &[("action".to_owned(), "rename the team".to_owned())].into(),
        );
        assert_eq!(
            translate(Lang::En, None, &received),
            "Your role does not allow you to rename the team."
        );
        assert_eq!(
            translate(Lang::Ja, None, &received),
            "あなたのロールではこの操作はできません。"
        );
        // A code from a newer server, and words without a code, stay in English.
        let newer = Text::received(
            "Something new.",
            Some("from_the_future"),
            &Default::default(),
        );
        assert_eq!(translate(Lang::Ja, None, &newer), "Something new.");
        // Not even a sentence whose words are a catalogue message's: only codes count.
        for words in ["Unknown words", "is required"] {
            assert_eq!(translate(Lang::Ja, None, &words.into()), words);
        }
        assert_eq!(
            translate(Lang::En, Some("Email"), &"Someone has it.".into()),
            "Someone has it."
        );
    }

    #[test]
    fn core_validator_messages_are_all_translated() {
        use hakobu_core::api::auth::{ChangePasswordRequest, SignupRequest};
        let bad = SignupRequest {
            organization_name: "x".repeat(200),
            name: "a\nb".to_owned(),
            email: "nope".to_owned(),
            password: "short".to_owned(),
            first_team_name: None,
        };
        let same = ChangePasswordRequest {
            current_password: "long enough password".to_owned(),
            new_password: "long enough password".to_owned(),
        };
        let errors = [bad.validate().unwrap_err(), same.validate().unwrap_err()];
        for e in errors.iter().flat_map(|e| e.0.iter()) {
            assert!(e.code.is_some(), "no code: {}", e.message);
            assert_ne!(translate(Lang::Ja, None, &e.text()), e.message);
        }
    }

    #[test]
    fn variable_and_rule_messages_translate_with_their_parts() {
        use hakobu_core::variables::{SqlUse, TimeBase, Variable, VariableValue, check_settings};
        let variables = vec![
            Variable {
                name: "run_id".into(),
                value: VariableValue::String { value: "x".into() },
                in_sql: SqlUse::Literal,
            },
            Variable {
                name: "day".into(),
                value: VariableValue::Timestamp {
                    base: TimeBase::ScheduledTime,
                    offset: None,
                    format: "%Q".into(),
                    timezone: "Mars/Base".into(),
                },
                in_sql: SqlUse::Literal,
            },
        ];
        let settings = serde_json::json!({
            "destination": {"table": {"name": "orders_$day"}},
            "source": {"query": "SELECT * FROM t WHERE d = '$day$' AND x = $nope$"},
        });
        let mut errors = hakobu_core::validation::FieldErrors::default();
        check_settings(&settings, &variables, &mut errors);
        assert!(errors.0.len() >= 5, "{errors:?}");
        for e in &errors.0 {
            let ja = translate(Lang::Ja, None, &e.text());
            assert_ne!(ja, e.message, "untranslated: {}", e.message);
        }
        let lone = hakobu_core::variables::parse("orders_$day")
            .unwrap_err()
            .message;
        assert_eq!(
            lone.english,
            "\"$day\" at position 8 is not a variable: write a variable as $name$ (letters, digits and _), and $$ for a dollar sign"
        );
        assert_eq!(
            translate(Lang::Ja, None, &lone),
            "8 文字目の \"$day\" は変数ではありません。変数は $name$（英数字と _）、ドル記号は $$ と書きます。"
        );
        let seconds = Text::from(MessageCode::FromToSeconds.with("from", 1).with("to", 600));
        assert_eq!(seconds.english, "must be from 1 to 600 seconds");
        assert_eq!(
            translate(Lang::Ja, None, &seconds),
            "1 から 600 秒までにしてください。"
        );
        for sql in ["DELETE FROM t", "SELECT 1; SELECT 2"] {
            let text = hakobu_core::job::check_select(sql).unwrap_err();
            assert!(text.message.is_some(), "no code: {text}");
            assert_ne!(translate(Lang::Ja, None, &text), text.english);
        }
    }

    #[test]
    fn counts_take_the_singular_for_one() {
        let (one, many) = (Key::BackfillQueuedOne, Key::BackfillQueued);
        assert_eq!(fill_count(Lang::En, one, many, 1), "1 run queued.");
        assert_eq!(fill_count(Lang::En, one, many, 2), "2 runs queued.");
        assert_eq!(
            fill_count(Lang::Ja, one, many, 1),
            "1 件の実行を登録しました。"
        );
        assert_eq!(
            fill_count(Lang::Ja, one, many, 3),
            "3 件の実行を登録しました。"
        );
        let (one, many) = (Key::BackfillCountOne, Key::BackfillCount);
        assert_eq!(fill_count(Lang::En, one, many, 1), "This queues 1 run.");
        assert_eq!(fill_count(Lang::En, one, many, 24), "This queues 24 runs.");
    }

    #[test]
    fn browser_language() {
        assert_eq!(Lang::from_browser("ja-JP"), Lang::Ja);
        assert_eq!(Lang::from_browser("ja"), Lang::Ja);
        assert_eq!(Lang::from_browser("en-GB"), Lang::En);
        assert_eq!(Lang::from_browser("fr"), Lang::En);
    }
}
