"""Live paper trading: one decision loop for testnet, dry run and the local emulator."""
