"""TradeBot web UI (Flask): bootstrap, login, dashboard, controls (web_runtime §2-§4).

The UI talks to the bot only through files and databases under the runtime home; it never spawns
processes and never calls a broker. Build the app with `tbot_web.app.create_app`.
"""
