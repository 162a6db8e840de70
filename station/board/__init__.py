"""Board link: wire protocol, transports (serial, virtual board, replay), acquisition."""
