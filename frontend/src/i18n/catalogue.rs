//! Japanese for `core`'s message catalogue ([`hakobu_core::api::messages`]).
//!
//! The server and `core`'s validators send a message's code and the values of its parts
//! beside the English sentence; the UI says it in Japanese from this table, so no English
//! wording is matched. The `match` is exhaustive: a message added to the catalogue does not
//! build until it has its Japanese here.

use hakobu_core::api::messages::MessageCode;

/// The Japanese template of a message, `{name}` parts as in its English template. A part
/// may be left out where Japanese reads better without it (the English phrase of
/// `forbidden`'s action, `named_not_found`'s noun).
pub fn japanese_template(code: MessageCode) -> &'static str {
    match code {
        MessageCode::Required => "入力してください。",
        MessageCode::TooLong => "{n} 文字以内で入力してください。",
        MessageCode::ControlCharacters => "改行などの制御文字は使えません。",
        MessageCode::NotAnEmail => {
            "name@example.com のような形式のメールアドレスを入力してください。"
        }
        MessageCode::PasswordTooShort => "{n} 文字以上にしてください。",
        MessageCode::PasswordTooLong => "{n} 文字以内にしてください。",
        MessageCode::SamePassword => "現在のパスワードとは違うものにしてください。",
        MessageCode::SameTeamTwice => "同じチームが 2 回指定されています。",
        MessageCode::TokenDays => "1 から {n} までの日数を入力してください。",
        MessageCode::NotCurrentPassword => "現在のパスワードと一致しません。",
        MessageCode::NotATeam => "この組織のチームではありません。",
        MessageCode::WrongPassword => "メールアドレスまたはパスワードが正しくありません。",
        MessageCode::DuplicateAccount => {
            "このメールアドレスのアカウントはすでに存在します。ログインするか、別のメールアドレスを使ってください。"
        }
        MessageCode::AlreadyMember => "このメールアドレスのアカウントはすでに存在します。",
        MessageCode::InvalidInvitation => {
            "この招待リンクは無効です。使用済みか、取り消されたか、期限切れです。管理者に新しいリンクを依頼してください。"
        }
        MessageCode::DuplicateTeam => "この名前のチームはすでに存在します。",
        MessageCode::OnlyOwner => {
            "この人は組織で唯一のオーナーです。先に別の人をオーナーにしてください。"
        }
        MessageCode::OnlyOwnerRemove => "組織で唯一のオーナーは削除できません。",
        MessageCode::SignedOut => {
            "ログインしていないか、セッションが終了しました。もう一度ログインしてください。"
        }
        MessageCode::AccountGone => "あなたのアカウントはもう存在しません。",
        MessageCode::TooManyFailuresAccount => {
            "このアカウントへのログイン失敗が多すぎます。{n} 分待ってから、もう一度お試しください。"
        }
        MessageCode::TooManyFailuresAddress => {
            "お使いのネットワークからのログイン失敗が多すぎます。{n} 分待ってから、もう一度お試しください。"
        }
        MessageCode::DatabaseUnavailable => {
            "現在、サービスがデータベースに接続できません。しばらくしてからもう一度お試しください。"
        }
        MessageCode::Internal => {
            "サーバー側で問題が発生しました。もう一度お試しください。繰り返し起きる場合は、日時と操作内容を管理者に伝えてください。"
        }
        MessageCode::Forbidden => "あなたのロールではこの操作はできません。",
        MessageCode::NotFound | MessageCode::NamedNotFound => {
            "見つかりません。削除された可能性があります。"
        }
        MessageCode::SingleSelect => {
            "SELECT 文（または WITH ... SELECT）を 1 つだけ書いてください。"
        }
        MessageCode::SingleStatement => "文は 1 つにしてください。文の間の ; を削除してください。",
    }
}

/// The messages whose Japanese leaves out some of the English parts, on purpose: those
/// parts are English words, which a Japanese sentence would not carry.
#[cfg(test)]
pub const PARTS_LEFT_OUT: &[MessageCode] = &[MessageCode::Forbidden, MessageCode::NamedNotFound];
