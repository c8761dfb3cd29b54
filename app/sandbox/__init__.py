"""The sandbox: test clocks that organisations in sandbox mode live on, advanced by a client."""
