"""The Telegram bot (aiogram 3): the end user's interface to every stage, built only on the host's
gRPC API and the avatar's live inference service (docs/bot.md)."""
