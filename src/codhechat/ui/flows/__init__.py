"""What the user does in several steps (a dialog, then a change through the session):
managing conversations, copying, searching, per-conversation settings.

Each flow takes the screen it runs on, for dialogs and notifications (Textual's public
Screen API only), and the ChatSession it changes; the chat screen's actions call them.
No flow imports the chat screen, so there is no import circle.
"""
