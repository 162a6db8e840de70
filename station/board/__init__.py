"""Board link: wire protocol, frame decoder, transports (serial, virtual board), acquisition and recording."""
