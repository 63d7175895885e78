import { AnonSessionProvider } from "anon-sessions-client/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./styles.css";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <AnonSessionProvider>
      <App />
    </AnonSessionProvider>
  </StrictMode>,
);
