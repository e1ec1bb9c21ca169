"""Every side effect the case workflow needs: the store writes and working-day arithmetic."""
