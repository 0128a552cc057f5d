import { defineConfig } from "vite";

// Static files only (dist/): any static host, Appwrite Sites included, can serve them.
// The Appwrite endpoint and project are read at run time from config.json next to index.html.
export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
});
