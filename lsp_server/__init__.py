"""viscodex.lsp_server"""
