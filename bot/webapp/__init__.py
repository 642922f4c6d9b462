"""The web app (the Telegram Mini App): pages a person opens from the bot, or in a plain browser after
a one-time login link, and the JSON API behind them. It talks to the host over gRPC exactly as the bot
does (bot.host_client, acting for the signed-in person) and keeps in the database only what the bot
keeps there already, plus the login links the bot hands out."""
